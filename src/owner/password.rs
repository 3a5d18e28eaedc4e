//! Password hashing with argon2id, and the one thread that does it for the
//! server.
//!
//! argon2 is slow and memory-hard by design: every run fills a 19 MiB
//! working block. Letting tokio's blocking pool run it meant each run
//! allocated that block on whichever pool thread it landed on, and glibc's
//! per-thread arenas kept every one of those blocks: resident memory grew by
//! tens of megabytes with each sign-in and was never given back, a remote
//! out-of-memory for anyone able to post wrong passwords. So the server
//! runs argon2 on a single dedicated thread (`PasswordWorker`) that hashes
//! into one `Workspace` allocated once and reused: memory is bounded to one
//! block, however many sign-ins there are. The command line, which hashes
//! once and exits, uses the plain `hash`/`verify` functions.

use argon2::password_hash::phc::{Output, ParamsString, Salt};
use argon2::{Algorithm, Argon2, Block, Params, PasswordHash, Version};
use subtle::ConstantTimeEq;
use tokio::sync::{mpsc, oneshot};

#[derive(Debug, thiserror::Error)]
pub enum PasswordError {
    #[error("the password must be at least {MIN_LEN} characters long")]
    TooShort,
    #[error("the password is longer than {MAX_LEN} bytes")]
    TooLong,
    #[error("could not hash the password")]
    Hash,
}

/// The password worker has stopped (the server is shutting down).
#[derive(Debug, thiserror::Error)]
#[error("the password worker has stopped")]
pub struct WorkerGone;

pub const MIN_LEN: usize = 8;
/// Bounds the work one login attempt can cause.
pub const MAX_LEN: usize = 1024;

/// The largest argon2 memory cost a stored hash may ask for, in KiB
/// (= blocks). Ours use `Params::DEFAULT_M_COST` (19 MiB); a hash written
/// by another tool with a larger cost is refused rather than letting a
/// database value decide how much memory doorstep takes.
const MAX_M_COST: u32 = 64 * 1024;

/// One trailing newline (as `echo` adds) is not part of the password.
pub fn from_stdin_text(text: &str) -> &str {
    text.strip_suffix("\r\n")
        .or_else(|| text.strip_suffix('\n'))
        .unwrap_or(text)
}

/// argon2's working memory, kept between runs so that it is allocated once.
#[derive(Default)]
pub struct Workspace {
    blocks: Vec<Block>,
}

impl Workspace {
    /// `n` blocks of working memory, growing the workspace if needed.
    fn blocks(&mut self, n: usize) -> &mut [Block] {
        if self.blocks.len() < n {
            self.blocks.resize(n, Block::new());
        }
        &mut self.blocks[..n]
    }

    /// Clears what the last run left (it is derived from a password).
    fn wipe(&mut self) {
        self.blocks.fill(Block::new());
    }

    /// Hashes a new password with fresh salt into a PHC string.
    pub fn hash(&mut self, password: &str) -> Result<String, PasswordError> {
        if password.chars().count() < MIN_LEN {
            return Err(PasswordError::TooShort);
        }
        if password.len() > MAX_LEN {
            return Err(PasswordError::TooLong);
        }
        let mut salt = [0u8; 16];
        use rand::TryRng;
        rand::rngs::SysRng
            .try_fill_bytes(&mut salt)
            .map_err(|_| PasswordError::Hash)?;
        let params = Params::default();
        let mut out = [0u8; Params::DEFAULT_OUTPUT_LEN];
        let argon = Argon2::new(Algorithm::Argon2id, Version::V0x13, params.clone());
        let ran = argon.hash_password_into_with_memory(
            password.as_bytes(),
            &salt,
            &mut out,
            self.blocks(params.block_count()),
        );
        self.wipe();
        ran.map_err(|_| PasswordError::Hash)?;
        let phc = PasswordHash {
            algorithm: Algorithm::Argon2id.ident(),
            version: Some(Version::V0x13.into()),
            params: ParamsString::try_from(&params).map_err(|_| PasswordError::Hash)?,
            salt: Some(Salt::new(&salt).map_err(|_| PasswordError::Hash)?),
            hash: Some(Output::new(&out).map_err(|_| PasswordError::Hash)?),
        };
        Ok(phc.to_string())
    }

    /// Whether `password` matches the stored PHC string. The comparison of
    /// the outputs is constant-time.
    pub fn verify(&mut self, password: &str, stored: &str) -> bool {
        if password.len() > MAX_LEN {
            return false;
        }
        let Ok(parsed) = PasswordHash::new(stored) else {
            return false;
        };
        let (Some(salt), Some(expected)) = (&parsed.salt, &parsed.hash) else {
            return false;
        };
        let Ok(algorithm) = Algorithm::try_from(parsed.algorithm.as_str()) else {
            return false;
        };
        let version = match parsed.version.map(Version::try_from).transpose() {
            Ok(v) => v.unwrap_or_default(),
            Err(_) => return false,
        };
        let Ok(params) = Params::try_from(&parsed) else {
            return false;
        };
        if params.m_cost() > MAX_M_COST {
            return false;
        }
        let mut out = vec![0u8; expected.len()];
        let argon = Argon2::new(algorithm, version, params.clone());
        let ran = argon.hash_password_into_with_memory(
            password.as_bytes(),
            salt,
            &mut out,
            self.blocks(params.block_count()),
        );
        self.wipe();
        ran.is_ok() && bool::from(out.as_slice().ct_eq(expected.as_bytes()))
    }
}

/// Hashes once, with memory of its own: for the command line and tests.
pub fn hash(password: &str) -> Result<String, PasswordError> {
    Workspace::default().hash(password)
}

/// Verifies once, with memory of its own: for the command line and tests.
pub fn verify(password: &str, stored: &str) -> bool {
    Workspace::default().verify(password, stored)
}

enum Job {
    Hash {
        password: String,
        reply: oneshot::Sender<Result<String, PasswordError>>,
    },
    Verify {
        password: String,
        stored: String,
        reply: oneshot::Sender<bool>,
    },
}

/// The server's argon2 thread. Requests queue (a few at most; senders wait
/// for room, which is the back-pressure that bounds a burst of sign-in
/// POSTs) and run one at a time in one reused `Workspace`. The thread ends
/// when the last handle is dropped.
#[derive(Clone)]
pub struct PasswordWorker {
    jobs: mpsc::Sender<Job>,
}

/// Jobs waiting beyond the one running.
const QUEUE: usize = 4;

impl PasswordWorker {
    pub fn start() -> std::io::Result<PasswordWorker> {
        let (jobs, mut queue) = mpsc::channel::<Job>(QUEUE);
        std::thread::Builder::new()
            .name("argon2".into())
            .spawn(move || {
                let mut workspace = Workspace::default();
                while let Some(job) = queue.blocking_recv() {
                    match job {
                        Job::Hash { password, reply } => {
                            let _ = reply.send(workspace.hash(&password));
                        }
                        Job::Verify {
                            password,
                            stored,
                            reply,
                        } => {
                            let _ = reply.send(workspace.verify(&password, &stored));
                        }
                    }
                }
            })?;
        Ok(PasswordWorker { jobs })
    }

    pub async fn hash(
        &self,
        password: String,
    ) -> Result<Result<String, PasswordError>, WorkerGone> {
        let (reply, answer) = oneshot::channel();
        self.jobs
            .send(Job::Hash { password, reply })
            .await
            .map_err(|_| WorkerGone)?;
        answer.await.map_err(|_| WorkerGone)
    }

    pub async fn verify(&self, password: String, stored: String) -> Result<bool, WorkerGone> {
        let (reply, answer) = oneshot::channel();
        self.jobs
            .send(Job::Verify {
                password,
                stored,
                reply,
            })
            .await
            .map_err(|_| WorkerGone)?;
        answer.await.map_err(|_| WorkerGone)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_verify_and_are_argon2id() {
        let h = hash("correct horse").unwrap();
        assert!(h.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"));
        assert!(verify("correct horse", &h));
        assert!(!verify("correct horsE", &h));
        assert!(!verify("x", "not a hash"));
    }

    #[test]
    fn one_workspace_verifies_hashes_of_the_argon2_crate_and_its_own() {
        use argon2::password_hash::PasswordHasher;
        let theirs = Argon2::default()
            .hash_password_with_salt(b"correct horse", b"saltsaltsaltsalt")
            .unwrap()
            .to_string();
        let mut ws = Workspace::default();
        let ours = ws.hash("another password").unwrap();
        assert!(ws.verify("correct horse", &theirs));
        assert!(!ws.verify("correct horsf", &theirs));
        assert!(ws.verify("another password", &ours));
        assert!(!ws.verify("correct horse", &ours));
    }

    #[test]
    fn a_stored_hash_cannot_demand_unbounded_memory() {
        let huge = "$argon2id$v=19$m=4000000,t=1,p=1$c2FsdHNhbHRzYWx0c2FsdA$\
                    AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA";
        assert!(!verify("anything at all", huge));
    }

    #[test]
    fn short_passwords_are_refused() {
        assert!(matches!(hash("short"), Err(PasswordError::TooShort)));
    }

    #[test]
    fn one_trailing_newline_is_stripped() {
        assert_eq!(from_stdin_text("pw\n"), "pw");
        assert_eq!(from_stdin_text("pw\r\n"), "pw");
        assert_eq!(from_stdin_text("pw\n\n"), "pw\n");
        assert_eq!(from_stdin_text("pw"), "pw");
    }

    #[tokio::test]
    async fn the_worker_hashes_and_verifies_in_turn() {
        let worker = PasswordWorker::start().unwrap();
        let h = worker.hash("correct horse".into()).await.unwrap().unwrap();
        assert!(
            worker
                .verify("correct horse".into(), h.clone())
                .await
                .unwrap()
        );
        assert!(!worker.verify("wrong horse!".into(), h).await.unwrap());
    }
}
