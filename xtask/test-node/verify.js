// Verifies a sigstore bundle offline with sigstore-js (@sigstore/verify).
//
//   node verify.js BUNDLE ARTIFACT KEY TRUSTED_ROOT
//     Key mode, as the interop notes did: a key-signed bundle, the key given by a key-selector
//     callback, no log entry or timestamp required (the air-gap shape).
//   node verify.js --keyless BUNDLE ARTIFACT TRUSTED_ROOT SAN ISSUER
//     Keyless mode: a certificate chaining to the trusted root's CAs, with sigstore's default
//     thresholds (one verified SCT, one verified log entry, one verified timestamp), and the
//     certificate identity policy: the SAN exactly (sigstore-js matches a pattern, so it is
//     escaped and anchored) and the OIDC issuer exactly.
// Prints OK, or fails with sigstore-js's error.
const fs = require('fs');
const crypto = require('crypto');
const { bundleFromJSON } = require('@sigstore/bundle');
const { Verifier, toSignedEntity, toTrustMaterial } = require('@sigstore/verify');
const { TrustedRoot } = require('@sigstore/protobuf-specs');

const readJSON = (path) => JSON.parse(fs.readFileSync(path, 'utf8'));

if (process.argv[2] === '--keyless') {
  const [bundlePath, artifactPath, rootPath, san, issuer] = process.argv.slice(3);
  const bundle = bundleFromJSON(readJSON(bundlePath));
  const trust = toTrustMaterial(TrustedRoot.fromJSON(readJSON(rootPath)));
  const verifier = new Verifier(trust, { tlogThreshold: 1, ctlogThreshold: 1, timestampThreshold: 1 });
  const exactly = '^' + san.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&') + '$';
  const policy = { subjectAlternativeName: exactly, extensions: { issuer } };
  verifier.verify(toSignedEntity(bundle, fs.readFileSync(artifactPath)), policy);
} else {
  const [bundlePath, artifactPath, keyPath, rootPath] = process.argv.slice(2);
  const bundle = bundleFromJSON(readJSON(bundlePath));
  const publicKey = crypto.createPublicKey(fs.readFileSync(keyPath, 'utf8'));
  const root = TrustedRoot.fromJSON(readJSON(rootPath));
  const trust = toTrustMaterial(root, () => ({ publicKey, validFor: () => true }));
  const verifier = new Verifier(trust, { tlogThreshold: 0, ctlogThreshold: 0, timestampThreshold: 0 });
  verifier.verify(toSignedEntity(bundle, fs.readFileSync(artifactPath)));
}
console.log('OK');
