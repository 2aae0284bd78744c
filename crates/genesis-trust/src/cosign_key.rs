//! cosign's encrypted private keys (`ENCRYPTED SIGSTORE PRIVATE KEY`, and the older
//! `ENCRYPTED COSIGN PRIVATE KEY`): a PEM whose body is JSON naming an scrypt KDF and a NaCl
//! secretbox around a PKCS#8 key (secure-systems-lab's `encrypted` format). Reading them lets
//! vendors sign bundles with the keys they already use for cosign; writing them lets the same
//! key go back to cosign.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use crypto_secretbox::aead::{Aead, KeyInit};
use crypto_secretbox::{Nonce, XSalsa20Poly1305};
use rand_core::RngCore as _;

/// PEM labels cosign writes (current first).
pub const LABELS: [&str; 2] = ["ENCRYPTED SIGSTORE PRIVATE KEY", "ENCRYPTED COSIGN PRIVATE KEY"];

/// scrypt cost cosign uses today (log2 N = 16); 2^15 is what older cosign wrote.
const LOG_N: u8 = 16;

/// The scrypt parameter sets (N, r, p) cosign reads: exactly those go-securesystemslib's
/// `encrypted.Decrypt` accepts (its `CheckParams`; cosign reaches it through sigstore's
/// `cryptoutils`): `Legacy` 2^15 (older cosign), `Standard` 2^16 (cosign's default) and
/// `OWASP` 2^17 (what `EncryptWithCustomKDFParameters` writes for the OWASP strength).
/// Anything else is refused before deriving: the file chooses N, and scrypt needs 128·N·r
/// bytes, so an open set would let a hostile key exhaust memory.
const SCRYPT_PARAMETERS: [(u64, u32, u32); 3] = [(1 << 15, 8, 1), (1 << 16, 8, 1), (1 << 17, 8, 1)];

#[derive(serde::Serialize, serde::Deserialize)]
struct Envelope {
    kdf: Kdf,
    cipher: Cipher,
    ciphertext: String,
}

#[derive(serde::Serialize, serde::Deserialize)]
struct Kdf {
    name: String,
    params: KdfParams,
    salt: String,
}

#[derive(serde::Serialize, serde::Deserialize)]
#[allow(non_snake_case)] // the field names are the format's
struct KdfParams {
    N: u64,
    r: u32,
    p: u32,
}

#[derive(serde::Serialize, serde::Deserialize)]
struct Cipher {
    name: String,
    nonce: String,
}

/// Whether a PEM text is a cosign encrypted key.
pub fn is_encrypted(pem: &str) -> bool {
    LABELS.iter().any(|l| pem.contains(&format!("-----BEGIN {l}-----")))
}

/// Decrypts a cosign encrypted key to its PKCS#8 DER bytes. Errors are sentences for the
/// operator.
pub fn decrypt(pem: &str, password: &[u8]) -> Result<Vec<u8>, String> {
    let body: String = pem.lines().filter(|l| !l.starts_with("-----")).map(str::trim).collect();
    let json = STANDARD.decode(body).map_err(|e| format!("the PEM body is not base64 ({e})"))?;
    let env: Envelope = serde_json::from_slice(&json).map_err(|e| format!("not a cosign encrypted key ({e})"))?;
    if env.kdf.name != "scrypt" || env.cipher.name != "nacl/secretbox" {
        return Err(format!(
            "unsupported KDF {:?} or cipher {:?} (cosign uses scrypt and nacl/secretbox)",
            env.kdf.name, env.cipher.name
        ));
    }
    let KdfParams { N, r, p } = env.kdf.params;
    // cosign accepts exactly these; anything else is a malformed or hostile file.
    if !SCRYPT_PARAMETERS.contains(&(N, r, p)) {
        return Err(format!(
            "unsupported scrypt parameters N={N}, r={r}, p={p} (cosign uses N=32768, 65536 or 131072, r=8, p=1)"
        ));
    }
    let salt = STANDARD.decode(&env.kdf.salt).map_err(|e| format!("salt is not base64 ({e})"))?;
    let nonce = STANDARD.decode(&env.cipher.nonce).map_err(|e| format!("nonce is not base64 ({e})"))?;
    let ciphertext = STANDARD.decode(&env.ciphertext).map_err(|e| format!("ciphertext is not base64 ({e})"))?;
    if nonce.len() != 24 {
        return Err("the secretbox nonce is not 24 bytes".into());
    }
    let key = derive(password, &salt, N.trailing_zeros() as u8, r, p)?;
    let cipher = XSalsa20Poly1305::new(&key.into());
    cipher
        .decrypt(Nonce::from_slice(&nonce), ciphertext.as_slice())
        .map_err(|_| "wrong password (the key did not decrypt); set GENESIS_KEY_PASSWORD or type it again".into())
}

fn derive(password: &[u8], salt: &[u8], log_n: u8, r: u32, p: u32) -> Result<[u8; 32], String> {
    let params = scrypt::Params::new(log_n, r, p, 32).map_err(|e| format!("scrypt parameters: {e}"))?;
    let mut key = [0u8; 32];
    scrypt::scrypt(password, salt, &params, &mut key).map_err(|e| format!("scrypt: {e}"))?;
    Ok(key)
}

/// Encrypts PKCS#8 DER bytes in cosign's current format.
pub fn encrypt(pkcs8_der: &[u8], password: &[u8]) -> String {
    let mut salt = [0u8; 32];
    let mut nonce = [0u8; 24];
    rand_core::OsRng.fill_bytes(&mut salt);
    rand_core::OsRng.fill_bytes(&mut nonce);
    let key = derive(password, &salt, LOG_N, 8, 1).expect("fixed scrypt parameters are valid");
    let ciphertext = XSalsa20Poly1305::new(&key.into())
        .encrypt(Nonce::from_slice(&nonce), pkcs8_der)
        .expect("secretbox encryption does not fail");
    let env = Envelope {
        kdf: Kdf {
            name: "scrypt".into(),
            params: KdfParams { N: 1 << LOG_N, r: 8, p: 1 },
            salt: STANDARD.encode(salt),
        },
        cipher: Cipher { name: "nacl/secretbox".into(), nonce: STANDARD.encode(nonce) },
        ciphertext: STANDARD.encode(ciphertext),
    };
    let body = STANDARD.encode(serde_json::to_vec(&env).expect("json"));
    let mut pem = format!("-----BEGIN {}-----\n", LABELS[0]);
    for line in body.as_bytes().chunks(64) {
        pem.push_str(std::str::from_utf8(line).expect("base64 is ASCII"));
        pem.push('\n');
    }
    pem.push_str(&format!("-----END {}-----\n", LABELS[0]));
    pem
}
