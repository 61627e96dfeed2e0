// A self-signed X.509 certificate made with node:crypto alone (no openssl on a fresh machine): an EC P-256 key,
// the DER written by hand (version 3, CN and subjectAltName DNS names, CA:TRUE so it is its own root).
import { generateKeyPairSync, randomBytes, sign, X509Certificate } from 'node:crypto';

function tlv(tag: number, body: Buffer): Buffer {
  const n = body.length;
  const len =
    n < 0x80 ? Buffer.from([n]) : n < 0x100 ? Buffer.from([0x81, n]) : Buffer.from([0x82, n >> 8, n & 0xff]);
  return Buffer.concat([Buffer.from([tag]), len, body]);
}
const seq = (...parts: Buffer[]): Buffer => tlv(0x30, Buffer.concat(parts));
const set = (...parts: Buffer[]): Buffer => tlv(0x31, Buffer.concat(parts));
function oid(text: string): Buffer {
  const [a, b, ...rest] = text.split('.').map(Number);
  const bytes = [a! * 40 + b!];
  for (const v of rest) {
    const out = [v & 0x7f];
    for (let x = v >> 7; x > 0; x >>= 7) out.unshift((x & 0x7f) | 0x80);
    bytes.push(...out);
  }
  return tlv(0x06, Buffer.from(bytes));
}
const utc = (d: Date): Buffer =>
  tlv(0x17, Buffer.from(d.toISOString().replace(/[-:T]/g, '').slice(2, 14) + 'Z', 'latin1'));
const name = (cn: string): Buffer => seq(set(seq(oid('2.5.4.3'), tlv(0x0c, Buffer.from(cn)))));

export interface SelfSigned {
  cert: string;
  key: string;
}

/** A certificate for `dnsNames` (the first is also the CN), valid from yesterday for a year. */
export function selfSigned(dnsNames: string[]): SelfSigned {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const algorithm = seq(oid('1.2.840.10045.4.3.2')); // ecdsa-with-SHA256
  const serial = randomBytes(8);
  serial[0]! &= 0x7f;
  const now = Date.now();
  const san = seq(...dnsNames.map((n) => tlv(0x82, Buffer.from(n, 'latin1'))));
  const extensions = tlv(
    0xa3,
    seq(
      seq(oid('2.5.29.19'), tlv(0x04, seq(tlv(0x01, Buffer.from([0xff]))))), // basicConstraints CA:TRUE
      seq(oid('2.5.29.17'), tlv(0x04, san)),
    ),
  );
  const tbs = seq(
    tlv(0xa0, tlv(0x02, Buffer.from([2]))),
    tlv(0x02, serial),
    algorithm,
    name(dnsNames[0]!),
    seq(utc(new Date(now - 86_400_000)), utc(new Date(now + 365 * 86_400_000))),
    name(dnsNames[0]!),
    publicKey.export({ type: 'spki', format: 'der' }),
    extensions,
  );
  const signature = sign('sha256', tbs, privateKey);
  const der = seq(tbs, algorithm, tlv(0x03, Buffer.concat([Buffer.from([0]), signature])));
  const cert = `-----BEGIN CERTIFICATE-----\n${der
    .toString('base64')
    .replace(/(.{64})/g, '$1\n')
    .trim()}\n-----END CERTIFICATE-----\n`;
  new X509Certificate(cert); // throws if the DER is wrong
  return { cert, key: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString() };
}
