#!/usr/bin/env node
/*
 * What RSA costs on this machine, per operation: the signatures a whole trade makes and checks (PayPal's
 * webhook transmissions, WeChat Pay's signed requests, responses and notifications are RSA-2048 with SHA-256),
 * and parsing a certificate (done once per certificate URL by the webhook verifier).
 * Usage: node bench/rsa.js [--seconds 2]
 */
const { createPublicKey, generateKeyPairSync, sign, verify, X509Certificate } = require('node:crypto');
const { numberArg } = require('./harness');

function rate(work, seconds) {
  const until = performance.now() + seconds * 1000;
  let done = 0;
  const started = performance.now();
  while (performance.now() < until) {
    for (let i = 0; i < 20; i += 1) work();
    done += 20;
  }
  const ms = (performance.now() - started) / done;
  return { perSecond: Math.round(1000 / ms), msEach: Number(ms.toFixed(3)) };
}

function benchRsa({ seconds = 2 } = {}) {
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const message = Buffer.from(`${'a'.repeat(36)}|2026-12-03T09:00:00Z|WH-1|1234567890`);
  const signature = sign('sha256', message, privateKey);
  const pem = publicKey.export({ type: 'spki', format: 'pem' });
  const results = {
    'RSA-2048 SHA-256 sign': rate(() => sign('sha256', message, privateKey), seconds),
    'RSA-2048 SHA-256 verify (KeyObject)': rate(() => verify('sha256', message, publicKey, signature), seconds),
    'RSA-2048 SHA-256 verify (PEM parsed each time)': rate(() => verify('sha256', message, createPublicKey(pem), signature), seconds),
  };
  const forge = require('node-forge');
  const keys = forge.pki.rsa.generateKeyPair(1024);
  const certificate = forge.pki.createCertificate();
  certificate.publicKey = keys.publicKey;
  certificate.validity.notBefore = new Date();
  certificate.validity.notAfter = new Date(Date.now() + 86400000);
  certificate.sign(keys.privateKey, forge.md.sha256.create());
  const certificatePem = forge.pki.certificateToPem(certificate);
  results['X.509 certificate parse'] = rate(() => new X509Certificate(certificatePem), seconds);
  return results;
}

module.exports = { benchRsa };

if (require.main === module) process.stdout.write(`${JSON.stringify(benchRsa({ seconds: numberArg('seconds', 2) }), null, 2)}\n`);
