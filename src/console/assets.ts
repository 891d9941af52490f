/**
 * The console's only stylesheet and script, served by the service itself under /admin/assets/ (no other host:
 * the pages' Content-Security-Policy allows 'self' only). Kept as text in a module so `npm run build` ships them.
 */
export const CONSOLE_CSS = `
:root { --ink: #1b1f24; --muted: #57606a; --line: #d0d7de; --bg: #f6f8fa; --accent: #0b5cad; --bad: #a40e26; --good: #116329; }
* { box-sizing: border-box; }
body { margin: 0; font: 16px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: var(--ink); background: #fff; }
a { color: var(--accent); }
:focus-visible { outline: 3px solid #f0b400; outline-offset: 2px; }
.skip { position: absolute; left: -999px; top: 0; background: #fff; padding: .5rem; }
.skip:focus { left: .5rem; }
header { background: var(--bg); border-bottom: 1px solid var(--line); padding: .5rem 1rem; display: flex; flex-wrap: wrap; gap: .5rem 1.5rem; align-items: center; }
header .brand { font-weight: 700; text-decoration: none; color: var(--ink); }
header nav ul { list-style: none; margin: 0; padding: 0; display: flex; flex-wrap: wrap; gap: .25rem 1rem; }
header nav a[aria-current="page"] { font-weight: 700; text-decoration: none; color: var(--ink); }
header form { margin-left: auto; display: flex; gap: .5rem; align-items: center; }
header .who { color: var(--muted); font-size: .9rem; }
main { padding: 1rem; max-width: 1200px; margin: 0 auto; }
h1 { font-size: 1.5rem; margin: .5rem 0 1rem; }
h2 { font-size: 1.2rem; margin: 1.5rem 0 .5rem; border-bottom: 1px solid var(--line); padding-bottom: .25rem; }
.table-wrap { overflow-x: auto; border: 1px solid var(--line); border-radius: 4px; }
table { border-collapse: collapse; width: 100%; min-width: 640px; }
th, td { text-align: left; padding: .4rem .6rem; border-bottom: 1px solid var(--line); vertical-align: top; }
th { background: var(--bg); font-weight: 600; }
td.detail { min-width: 22rem; overflow-wrap: anywhere; }
td time { white-space: nowrap; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
dl.facts { display: grid; grid-template-columns: max-content 1fr; gap: .25rem 1rem; margin: 0; }
dl.facts dt { color: var(--muted); }
dl.facts dd { margin: 0; overflow-wrap: anywhere; }
dl.facts dd ul { margin: 0; padding-left: 1.1rem; }
.grid { display: grid; grid-template-columns: repeat(auto-fit, minmax(320px, 1fr)); gap: 1rem; }
.card { border: 1px solid var(--line); border-radius: 4px; padding: .75rem 1rem; }
.tabs { display: flex; flex-wrap: wrap; gap: .5rem; list-style: none; padding: 0; margin: 0 0 1rem; }
.tabs a { display: inline-block; padding: .35rem .8rem; border: 1px solid var(--line); border-radius: 999px; text-decoration: none; }
.tabs a[aria-current="page"] { background: var(--ink); color: #fff; border-color: var(--ink); }
form.stack { display: grid; gap: .5rem; max-width: 32rem; align-content: start; }
form.filters { display: flex; flex-wrap: wrap; gap: .5rem 1.5rem; align-items: end; margin-bottom: 1rem; }
form.filters p { margin: 0; }
form.filters select { width: auto; }
article.card { margin-bottom: .75rem; }
.card h3 { margin: 0 0 .5rem; }
label { font-weight: 600; }
input[type=text], input[type=email], input[type=password], textarea, select { font: inherit; padding: .4rem .5rem; border: 1px solid #8c959f; border-radius: 4px; width: 100%; }
textarea { min-height: 4.5rem; }
button, .button { font: inherit; padding: .45rem 1rem; border-radius: 4px; border: 1px solid var(--accent); background: var(--accent); color: #fff; cursor: pointer; text-decoration: none; display: inline-block; }
button.secondary, .button.secondary { background: #fff; color: var(--accent); }
button.danger { background: var(--bad); border-color: var(--bad); }
.notice { padding: .75rem 1rem; border-radius: 4px; border: 1px solid var(--line); background: var(--bg); margin: 0 0 1rem; }
.notice.error { border-color: var(--bad); background: #ffebe9; }
.notice.ok { border-color: var(--good); background: #dafbe1; }
.muted { color: var(--muted); }
.statement { white-space: pre-wrap; overflow-wrap: anywhere; }
.actions { margin-top: 1rem; display: grid; grid-template-columns: repeat(auto-fit, minmax(260px, 1fr)); gap: 1rem; }
.pager { margin-top: 1rem; display: flex; gap: 1rem; }
code, .mono { font-family: ui-monospace, SFMono-Regular, Menlo, monospace; font-size: .9em; overflow-wrap: anywhere; }
.field-error { color: var(--bad); font-weight: 600; }
@media (max-width: 600px) {
  main { padding: .75rem; }
  header form { margin-left: 0; }
  dl.facts { grid-template-columns: 1fr; }
  dl.facts dd { margin-bottom: .35rem; }
  .grid { grid-template-columns: 1fr; }
}
`;

/**
 * The one script: a split's two amounts must add up to the trade's USD, checked before the form is sent (the
 * server checks again). Works on cents as integers, never floating point.
 */
export const CONSOLE_JS = `
(function () {
  function cents(text) {
    var m = /^\\s*(\\d{1,13})(?:\\.(\\d{1,2}))?\\s*$/.exec(text || '');
    if (!m) return null;
    return Number(m[1]) * 100 + Number(((m[2] || '') + '00').slice(0, 2));
  }
  // Cents as a decimal string by their digits: no division, no floating point.
  function usd(c) {
    var digits = String(c).padStart(3, '0');
    return digits.slice(0, -2) + '.' + digits.slice(-2);
  }
  document.querySelectorAll('form[data-split-total]').forEach(function (form) {
    var total = cents(form.getAttribute('data-split-total'));
    var out = form.querySelector('[data-split-message]');
    function check() {
      var a = cents(form.elements.travelerUsd.value), b = cents(form.elements.counterpartyUsd.value);
      var ok = a !== null && b !== null && a + b === total && a > 0 && b > 0;
      var message = ok ? '' : 'The two amounts must each be above zero and add up to ' + form.getAttribute('data-split-total') + ' USD';
      if (a !== null && b !== null && !ok) message += ' (now ' + usd(a + b) + ')';
      out.textContent = message;
      return ok;
    }
    form.addEventListener('input', function () { if (out.textContent) check(); });
    form.addEventListener('submit', function (event) { if (!check()) { event.preventDefault(); form.elements.travelerUsd.focus(); } });
  });
})();
`;
