//! What an API key is: `rp_<id>_<secret>`, both parts random from the operating system's
//! generator, and what is kept of it (the id, and the SHA-256 of the secret).

use secrecy::SecretString;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// Every key starts with this, so that one pasted in the wrong place is recognisable (and
/// secret scanners can find it).
pub const PREFIX: &str = "rp_";
/// Random bytes in the id (public: `keys list` shows it) and in the secret.
const ID_BYTES: usize = 8;
const SECRET_BYTES: usize = 32;

/// A key as `keys create` prints it once.
pub struct NewKey {
    pub id: String,
    /// The whole key, `rp_<id>_<secret>`: shown once, stored nowhere.
    pub key: SecretString,
    pub secret_sha256: [u8; 32],
}

#[derive(Debug, thiserror::Error)]
#[error("the operating system's random number generator failed: {0}")]
pub struct RngError(String);

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// A new key.
pub fn generate() -> Result<NewKey, RngError> {
    let mut id = [0u8; ID_BYTES];
    let mut secret = [0u8; SECRET_BYTES];
    getrandom::fill(&mut id).map_err(|e| RngError(e.to_string()))?;
    getrandom::fill(&mut secret).map_err(|e| RngError(e.to_string()))?;
    let (id, secret) = (hex(&id), hex(&secret));
    Ok(NewKey {
        key: format!("{PREFIX}{id}_{secret}").into(),
        secret_sha256: secret_hash(&secret),
        id,
    })
}

/// A secret for one process's own use (its dashboard sync reading its own Data Provider API):
/// as random as a key's, never stored, gone with the process.
pub fn process_secret() -> Result<SecretString, RngError> {
    let mut secret = [0u8; SECRET_BYTES];
    getrandom::fill(&mut secret).map_err(|e| RngError(e.to_string()))?;
    Ok(format!("rp_process_{}", hex(&secret)).into())
}

fn is_hex(s: &str, bytes: usize) -> bool {
    s.len() == 2 * bytes && s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

/// `id` when it has the shape of a key's id.
pub fn parse_id(id: &str) -> Option<&str> {
    is_hex(id, ID_BYTES).then_some(id)
}

/// A key as a caller presents it, split into its id and its secret; `None` when it does not
/// have the shape of a key (then it may be one of the legacy tokens).
pub fn parse(presented: &str) -> Option<(&str, &str)> {
    let rest = presented.strip_prefix(PREFIX)?;
    let (id, secret) = rest.split_once('_')?;
    (is_hex(id, ID_BYTES) && is_hex(secret, SECRET_BYTES)).then_some((id, secret))
}

/// What is stored of the secret. A plain SHA-256 rather than a slow password hash (argon2,
/// bcrypt): those make guessing a *low-entropy* password expensive, but the secret is 256 random
/// bits, beyond any guessing, so one fast hash keeps it unrecoverable from the database and
/// costs a request nothing.
pub fn secret_hash(secret: &str) -> [u8; 32] {
    Sha256::digest(secret.as_bytes()).into()
}

/// Whether `secret` is the one whose hash is `stored`, in time that does not depend on where
/// they differ.
pub fn secret_matches(secret: &str, stored: &[u8; 32]) -> bool {
    secret_hash(secret).ct_eq(stored).into()
}

#[cfg(test)]
mod tests {
    use super::*;
    use secrecy::ExposeSecret;

    #[test]
    fn a_generated_key_parses_back_and_matches_its_hash_only() {
        let k = generate().unwrap();
        let (id, secret) = parse(k.key.expose_secret()).unwrap();
        assert_eq!(id, k.id);
        assert!(secret_matches(secret, &k.secret_sha256));
        let other = generate().unwrap();
        assert_ne!(other.key.expose_secret(), k.key.expose_secret());
        assert!(!secret_matches(secret, &other.secret_sha256));
        // Nothing stored contains the secret.
        assert!(!k.key.expose_secret().contains(&hex(&k.secret_sha256)));
    }

    #[test]
    fn only_the_shape_of_a_key_parses() {
        let good = format!("rp_{}_{}", "a".repeat(16), "0".repeat(64));
        assert!(parse(&good).is_some());
        for bad in [
            "s3cret".to_string(),
            "rp_".to_string(),
            format!("rp_{}_{}", "a".repeat(15), "0".repeat(64)),
            format!("rp_{}_{}", "A".repeat(16), "0".repeat(64)),
            format!("rp_{}_{}x", "a".repeat(16), "0".repeat(64)),
            format!("RP_{}_{}", "a".repeat(16), "0".repeat(64)),
        ] {
            assert!(parse(&bad).is_none(), "{bad}");
        }
    }
}
