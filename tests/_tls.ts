// A certificate authority and a server certificate for 127.0.0.1 and localhost, made by
// openssl for one test in a temporary directory (removed on dispose). Clients trust the
// authority: `Deno.createHttpClient({ caCerts: [tls.caCert] })`, or `DENO_CERT=tls.caFile`
// for a child process (its fetch and WebSocket).

/** The files and PEM texts of a test's certificates. */
export interface TestTls extends AsyncDisposable {
  /** The authority's certificate (what a client trusts). */
  caCert: string;
  /** Its file. */
  caFile: string;
  /** The server's certificate, signed by the authority. */
  cert: string;
  /** Its file. */
  certFile: string;
  /** The server's private key. */
  key: string;
  /** Its file. */
  keyFile: string;
  /** The base64 SHA-256 of the server key's SubjectPublicKeyInfo (Chromium's SPKI pin). */
  spki: string;
  /** Removes the files at once (as disposing does). */
  removeSync(): void;
}

async function _openssl(dir: string, args: string[]): Promise<void> {
  const out = await new Deno.Command("openssl", { args, cwd: dir, stdout: "null", stderr: "piped" })
    .output();
  if (!out.success) {
    throw new Error(`openssl ${args[0]} failed: ${new TextDecoder().decode(out.stderr)}`);
  }
}

/** Makes an authority and a server certificate (P-256, valid for a day). */
export async function makeTestTls(): Promise<TestTls> {
  const dir = await Deno.makeTempDir({ prefix: "shoal-tls-" });
  try {
    const ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"];
    await _openssl(dir, [
      "req",
      "-x509",
      ...ec,
      "-keyout",
      "ca.key",
      "-out",
      "ca.pem",
      "-days",
      "1",
      "-subj",
      "/CN=shoal test CA",
      "-addext",
      "basicConstraints=critical,CA:TRUE",
      "-addext",
      "keyUsage=critical,keyCertSign",
    ]);
    await _openssl(dir, [
      "req",
      "-new",
      ...ec,
      "-keyout",
      "server.key",
      "-out",
      "server.csr",
      "-subj",
      "/CN=127.0.0.1",
    ]);
    await Deno.writeTextFile(
      `${dir}/server.ext`,
      "basicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n" +
        "subjectAltName=IP:127.0.0.1,DNS:localhost\n",
    );
    await _openssl(dir, [
      "x509",
      "-req",
      "-in",
      "server.csr",
      "-CA",
      "ca.pem",
      "-CAkey",
      "ca.key",
      "-CAcreateserial",
      "-out",
      "server.pem",
      "-days",
      "1",
      "-extfile",
      "server.ext",
    ]);
    await _openssl(dir, [
      "pkey",
      "-in",
      "server.key",
      "-pubout",
      "-outform",
      "DER",
      "-out",
      "spki.der",
    ]);
    const spki = await crypto.subtle.digest("SHA-256", await Deno.readFile(`${dir}/spki.der`));
    const read = (name: string) => Deno.readTextFile(`${dir}/${name}`);
    return {
      caCert: await read("ca.pem"),
      caFile: `${dir}/ca.pem`,
      cert: await read("server.pem"),
      certFile: `${dir}/server.pem`,
      key: await read("server.key"),
      keyFile: `${dir}/server.key`,
      spki: btoa(String.fromCharCode(...new Uint8Array(spki))),
      removeSync: () => Deno.removeSync(dir, { recursive: true }),
      [Symbol.asyncDispose]: () => Deno.remove(dir, { recursive: true }),
    };
  } catch (error) {
    await Deno.remove(dir, { recursive: true });
    throw error;
  }
}
