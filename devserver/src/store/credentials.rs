//! Temporary COS credentials (STS-like key pair + session token): SMH's upload keys, bound to
//! one upload's scope, and the bucket keys a customer backend hands out (`POST /credentials` on
//! the app origin), bound to a key prefix.

use base64::Engine as _;
use rand::distr::{Alphanumeric, SampleString};
use rusqlite::{params, OptionalExtension};

use super::{now_secs, CredentialScope, Store, StoreError, TempCredential};

/// Credentials are valid from this many seconds before minting (client clocks lag; the SDKs
/// sign with `start = now - 60` too).
const CREDENTIAL_BACKDATE_SECS: i64 = 60;

/// The `owner` of every bucket key ([`Store::mint_bucket_credential`]).
pub const BUCKET_CREDENTIAL_OWNER: &str = "app:credentials";

impl Store {
    /// Mints a temporary credential for `scope`, valid from now-60 s to now+`ttl_secs`.
    pub fn mint_credential(&self, scope: CredentialScope, ttl_secs: i64) -> Result<TempCredential, StoreError> {
        self.insert_credential(scope, None, ttl_secs)
    }

    /// Mints a bucket key for object and multipart operations on keys starting with `prefix`
    /// (`""`: any key), valid from now-60 s to now+`ttl_secs`.
    pub fn mint_bucket_credential(&self, prefix: &str, ttl_secs: i64) -> Result<TempCredential, StoreError> {
        let scope =
            CredentialScope { key: prefix.to_string(), upload_id: None, owner: BUCKET_CREDENTIAL_OWNER.to_string() };
        self.insert_credential(scope, Some(prefix.to_string()), ttl_secs)
    }

    fn insert_credential(
        &self,
        scope: CredentialScope,
        prefix: Option<String>,
        ttl_secs: i64,
    ) -> Result<TempCredential, StoreError> {
        let mut rng = rand::rng();
        let now = now_secs();
        let token_bytes: [u8; 48] = rand::Rng::random(&mut rng);
        let credential = TempCredential {
            secret_id: format!("AKIDtmp{}", Alphanumeric.sample_string(&mut rng, 29)),
            secret_key: Alphanumeric.sample_string(&mut rng, 32),
            token: base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(token_bytes),
            start: now - CREDENTIAL_BACKDATE_SECS,
            expires: now + ttl_secs,
            scope,
            prefix,
        };
        self.db.lock().execute(
            "INSERT INTO cos_credentials (secret_id, secret_key, token, start, expires, key, upload_id, owner, prefix)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
            params![
                credential.secret_id,
                credential.secret_key,
                credential.token,
                credential.start,
                credential.expires,
                credential.scope.key,
                credential.scope.upload_id,
                credential.scope.owner,
                credential.prefix
            ],
        )?;
        Ok(credential)
    }

    /// The credential with this TmpSecretId, expired and revoked ones included (their
    /// `expires` is in the past), so the cos origin can answer "Request has expired".
    pub fn credential(&self, secret_id: &str) -> Result<Option<TempCredential>, StoreError> {
        let conn = self.db.lock();
        Ok(conn
            .query_row(
                "SELECT secret_id, secret_key, token, start, expires, key, upload_id, owner, prefix
                 FROM cos_credentials WHERE secret_id = ?1",
                [secret_id],
                |r| {
                    Ok(TempCredential {
                        secret_id: r.get(0)?,
                        secret_key: r.get(1)?,
                        token: r.get(2)?,
                        start: r.get(3)?,
                        expires: r.get(4)?,
                        scope: CredentialScope { key: r.get(5)?, upload_id: r.get(6)?, owner: r.get(7)? },
                        prefix: r.get(8)?,
                    })
                },
            )
            .optional()?)
    }

    /// Revokes every credential minted by `owner` (on confirm / cancel): they expire now.
    pub fn revoke_credentials(&self, owner: &str) -> Result<(), StoreError> {
        self.db.lock().execute(
            "UPDATE cos_credentials SET expires = MIN(expires, ?1) WHERE owner = ?2",
            params![now_secs() - 1, owner],
        )?;
        Ok(())
    }

    /// Test hook: every credential now counts as expired.
    pub fn expire_all_credentials(&self) -> Result<(), StoreError> {
        self.db.lock().execute("UPDATE cos_credentials SET expires = MIN(expires, ?1)", [now_secs() - 1])?;
        Ok(())
    }

    /// Test hook: the bucket key `secret_id` (or, with `None`, every bucket key) now counts as
    /// expired; returns how many were still valid.
    pub fn expire_bucket_credentials(&self, secret_id: Option<&str>) -> Result<usize, StoreError> {
        let now = now_secs();
        Ok(self.db.lock().execute(
            "UPDATE cos_credentials SET expires = ?1
             WHERE prefix IS NOT NULL AND expires >= ?2 AND (?3 IS NULL OR secret_id = ?3)",
            params![now - 1, now, secret_id],
        )?)
    }
}
