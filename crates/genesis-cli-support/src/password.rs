//! The password of a cosign encrypted key: `GENESIS_KEY_PASSWORD` when set (also an empty
//! one, as cosign allows), else a prompt on the terminal.

/// The environment variable holding the key password.
pub const ENV: &str = "GENESIS_KEY_PASSWORD";

/// The password for reading a key.
pub fn for_reading() -> Result<Vec<u8>, String> {
    if let Some(p) = std::env::var_os(ENV) {
        return Ok(p.into_encoded_bytes());
    }
    rpassword::prompt_password("Enter password for private key: ")
        .map(String::into_bytes)
        .map_err(|e| format!("no password: set {ENV} or run on a terminal ({e})"))
}

/// The password for a new key, typed twice when prompted.
pub fn for_writing() -> Result<Vec<u8>, String> {
    if let Some(p) = std::env::var_os(ENV) {
        return Ok(p.into_encoded_bytes());
    }
    let first = rpassword::prompt_password("Enter password for private key: ")
        .map_err(|e| format!("no password: set {ENV} or run on a terminal ({e})"))?;
    let again = rpassword::prompt_password("Enter password for private key again: ").map_err(|e| e.to_string())?;
    if first != again {
        return Err("the passwords do not match".into());
    }
    Ok(first.into_bytes())
}
