// The emulator's own CA and TLS server certificate, made with the openssl CLI on first start and
// kept in the data directory so clients can trust `ca.crt` across restarts.
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync, rmSync } from 'node:fs';
import { isIP } from 'node:net';
import { join } from 'node:path';

function openssl(args, cwd) {
  execFileSync('openssl', args, { cwd, stdio: ['ignore', 'ignore', 'pipe'] });
}

function subjectAltNames(host) {
  const names = new Set(['DNS:localhost', 'IP:127.0.0.1', isIP(host) ? `IP:${host}` : `DNS:${host}`]);
  return [...names].join(',');
}

/**
 * Ensures `ca.crt`/`ca.key` and a server certificate valid for `host`, `localhost` and 127.0.0.1
 * exist in `dir`. The server certificate is remade when the host name changes; the CA never is,
 * so clients keep trusting the same file.
 */
export function ensureCertificates(dir, host) {
  const files = { ca: join(dir, 'ca.crt'), caKey: join(dir, 'ca.key'), cert: join(dir, 'server.crt'), key: join(dir, 'server.key'), host: join(dir, 'server.host') };
  if (!existsSync(files.ca) || !existsSync(files.caKey)) {
    openssl(['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-sha256', '-days', '3650',
      '-subj', '/CN=fieldlink hub emulator CA', '-addext', 'basicConstraints=critical,CA:TRUE',
      '-addext', 'keyUsage=critical,keyCertSign,cRLSign', '-keyout', 'ca.key', '-out', 'ca.crt'], dir);
    rmSync(files.cert, { force: true });
  }
  const current = existsSync(files.host) ? readFileSync(files.host, 'utf8') : null;
  if (!existsSync(files.cert) || !existsSync(files.key) || current !== host) {
    writeFileSync(join(dir, 'server.ext'), [
      'basicConstraints=CA:FALSE',
      'keyUsage=digitalSignature,keyAgreement',
      'extendedKeyUsage=serverAuth',
      `subjectAltName=${subjectAltNames(host)}`,
    ].join('\n'));
    openssl(['req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-sha256',
      '-subj', `/CN=${host}`, '-keyout', 'server.key', '-out', 'server.csr'], dir);
    openssl(['x509', '-req', '-in', 'server.csr', '-CA', 'ca.crt', '-CAkey', 'ca.key', '-set_serial', `0x${Date.now().toString(16)}`,
      '-days', '825', '-sha256', '-extfile', 'server.ext', '-out', 'server.crt'], dir);
    rmSync(join(dir, 'server.csr'));
    rmSync(join(dir, 'server.ext'));
    writeFileSync(files.host, host);
  }
  return { ca: readFileSync(files.ca), cert: readFileSync(files.cert), key: readFileSync(files.key), caPath: files.ca };
}
