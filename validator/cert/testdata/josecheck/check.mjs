// Verifies a Sandkasse certificate with the npm package "jose" (panva/jose),
// an implementation that shares no code with ours, to show a certificate is
// an ordinary EdDSA JWS/JWT that any standard JOSE library can check.
//
// usage: node check.mjs JWKS_FILE CERT_FILE...
// Prints one line per certificate: {"header":…,"payload":…} when it verifies,
// else the library's error code. Exits 0 when all verify, 1 when any does
// not, 2 when jose cannot be loaded. (Several files per run because starting
// node is the slow part.)
//
// jose is found in $JOSE_DIR/node_modules when JOSE_DIR is set (a scratch
// install outside the repository), else next to this script.
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join, dirname } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const base = process.env.JOSE_DIR || dirname(fileURLToPath(import.meta.url));
let jose;
try {
  const req = createRequire(join(base, 'package.json'));
  jose = await import(pathToFileURL(req.resolve('jose')).href);
} catch (e) {
  console.error(`cannot load jose from ${base}: ${e.message}`);
  process.exit(2);
}

const [jwksFile, ...certFiles] = process.argv.slice(2);
const jwks = jose.createLocalJWKSet(JSON.parse(readFileSync(jwksFile, 'utf8')));
let failed = 0;
for (const certFile of certFiles) {
  const cert = readFileSync(certFile, 'utf8').trim();
  try {
    // Both the plain JWS check and the JWT check with the media type pinned.
    const jws = await jose.compactVerify(cert, jwks, { algorithms: ['EdDSA'] });
    const jwt = await jose.jwtVerify(cert, jwks, { algorithms: ['EdDSA'], typ: 'sandkasse-cert+jwt' });
    const payload = JSON.parse(new TextDecoder().decode(jws.payload));
    if (JSON.stringify(payload) !== JSON.stringify(jwt.payload)) {
      throw Object.assign(new Error('compactVerify and jwtVerify disagree'), { code: 'DISAGREE' });
    }
    console.log(JSON.stringify({ header: jws.protectedHeader, payload }));
  } catch (e) {
    failed++;
    console.log(e.code || e.name || 'ERROR');
  }
}
process.exit(failed ? 1 : 0);
