import { escapeHtml, html, raw, SafeHtml } from './html';

describe('html', () => {
  it('escapes every interpolated string, in text and in attributes', () => {
    const evil = `<script>alert("x")</script>' onmouseover='steal()' \`&`;
    const out = html`<p title="${evil}">${evil}</p>`.toString();
    expect(out).not.toContain('<script>');
    expect(out).not.toContain(`"x"`);
    expect(out).toBe(
      `<p title="${escapeHtml(evil)}">&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;&#39; onmouseover=&#39;steal()&#39; &#96;&amp;</p>`,
    );
  });

  it('keeps nested html and raw() as they are, and escapes the items of arrays', () => {
    const items = ['<a>', 'b&c'].map((item) => html`<li>${item}</li>`);
    // prettier-ignore
    const list = html`<ul>${items}</ul>`;
    expect(list.toString()).toBe('<ul><li>&lt;a&gt;</li><li>b&amp;c</li></ul>');
    expect(html`${raw('<br>')}${['<i>', raw('<b>')]}`.toString()).toBe('<br>&lt;i&gt;<b>');
  });

  it('renders numbers and bigints as text, and null, undefined and false as nothing', () => {
    expect(html`${1}|${2n}|${null}|${undefined}|${false}|${true}`.toString()).toBe('1|2||||true');
  });

  it('does not trust an object that merely looks like SafeHtml', () => {
    const fake = { value: '<b>' } as unknown as SafeHtml;
    expect(html`${fake}`.toString()).toBe('[object Object]');
    expect(html`${new SafeHtml('<b>')}`.toString()).toBe('<b>');
  });
});
