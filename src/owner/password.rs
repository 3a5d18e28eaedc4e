//! Password hashing with argon2id, and the one thread that does it for the
//! server.
//!
//! argon2 is slow and memory-hard by design: every run fills a 19 MiB
//! working block. Letting tokio's blocking pool run it meant each run
//! allocated that block on whichever pool thread it landed on, and glibc's
//! per-thread arenas kept every one of those blocks: resident memory grew by
//! tens of megabytes with each sign-in and was never given back, a remote
//! out-of-memory for anyone able to post wrong passwords. So the server
//! runs argon2 on a single dedicated thread (`PasswordWorker`), one run at
//! a time, and each run's block is given back to the system when the run
//! ends (`with_blocks`): between sign-ins argon2 holds no memory at all, and
//! during one it holds one block. The command line calls `hash`/`verify`
//! directly.

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
    #[error("the password must not be only spaces")]
    Blank,
    #[error(
        "that password is one of the most common ones, which are guessed first; choose another"
    )]
    Common,
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

/// Bytes above which glibc always serves an allocation with its own
/// `mmap` and returns it with `munmap` when freed: its dynamic mmap
/// threshold never rises past `DEFAULT_MMAP_THRESHOLD_MAX` (32 MiB on
/// 64-bit), and freeing a chunk larger than that does not raise it.
/// A 19 MiB block, once freed, would raise the threshold to 19 MiB, so the
/// next block would come from the heap and stay resident after it is freed
/// (what made memory grow with every sign-in). Other allocators (musl's,
/// for one) map allocations this large directly as well.
const ALWAYS_MAPPED: usize = 33 * 1024 * 1024;

/// Runs `f` on `n` zeroed argon2 blocks, reserved larger than
/// `ALWAYS_MAPPED` so that the system takes all of them back afterwards.
/// Only the `n` blocks argon2 uses are ever touched: reserved pages cost no
/// memory. Between runs nothing is held.
fn with_blocks<T>(n: usize, f: impl FnOnce(&mut [Block]) -> T) -> T {
    let reserve = n.max(ALWAYS_MAPPED / std::mem::size_of::<Block>());
    let mut blocks: Vec<Block> = Vec::with_capacity(reserve);
    blocks.resize(n, Block::new());
    let out = f(&mut blocks);
    // What argon2 leaves in the block is derived from a password: wipe it
    // rather than rely on the system to zero the pages it takes back.
    blocks.fill(Block::new());
    out
}

/// The most common passwords of eight characters or more, from the public
/// lists of leaked passwords (lower case): a guesser tries these first, and
/// doorstep faces the open internet.
const COMMON: &[&str] = &[
    "password",
    "password1",
    "password12",
    "password123",
    "passw0rd",
    "p@ssw0rd",
    "p@ssword",
    "12345678",
    "123456789",
    "1234567890",
    "0123456789",
    "87654321",
    "11111111",
    "00000000",
    "12341234",
    "11223344",
    "12121212",
    "123123123",
    "qwertyui",
    "qwertyuiop",
    "qwerty123",
    "qwerty12",
    "1q2w3e4r",
    "1q2w3e4r5t",
    "1qaz2wsx",
    "zaq12wsx",
    "q1w2e3r4",
    "asdfghjk",
    "asdfasdf",
    "abcd1234",
    "abc12345",
    "abcdefgh",
    "iloveyou",
    "iloveyou1",
    "sunshine",
    "princess",
    "football",
    "baseball",
    "superman",
    "starwars",
    "whatever",
    "trustno1",
    "letmein1",
    "welcome1",
    "welcome123",
    "admin123",
    "administrator",
    "changeme",
    "computer",
    "internet",
    "michelle",
    "jennifer",
    "master12",
    "dragon12",
    "monkey12",
    "shadow12",
    "doorstep",
    "doorstep1",
    "indieauth",
    "indieweb",
];

/// A password from `COMMON`, or one character over and over.
fn is_common(password: &str) -> bool {
    let lower = password.to_lowercase();
    let mut chars = lower.chars();
    let first = chars.next();
    chars.all(|c| Some(c) == first) || COMMON.contains(&lower.as_str())
}

/// Hashes a new password with fresh salt into a PHC string.
pub fn hash(password: &str) -> Result<String, PasswordError> {
    if password.chars().count() < MIN_LEN {
        return Err(PasswordError::TooShort);
    }
    if password.len() > MAX_LEN {
        return Err(PasswordError::TooLong);
    }
    if password.trim().is_empty() {
        return Err(PasswordError::Blank);
    }
    if is_common(password) {
        return Err(PasswordError::Common);
    }
    let mut salt = [0u8; 16];
    use rand::TryRng;
    rand::rngs::SysRng
        .try_fill_bytes(&mut salt)
        .map_err(|_| PasswordError::Hash)?;
    let params = Params::default();
    let mut out = [0u8; Params::DEFAULT_OUTPUT_LEN];
    let argon = Argon2::new(Algorithm::Argon2id, Version::V0x13, params.clone());
    let ran = with_blocks(params.block_count(), |blocks| {
        argon.hash_password_into_with_memory(password.as_bytes(), &salt, &mut out, blocks)
    });
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

/// Whether `password` matches the stored PHC string. The comparison of the
/// outputs is constant-time.
pub fn verify(password: &str, stored: &str) -> bool {
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
    let ran = with_blocks(params.block_count(), |blocks| {
        argon.hash_password_into_with_memory(password.as_bytes(), salt, &mut out, blocks)
    });
    ran.is_ok() && bool::from(out.as_slice().ct_eq(expected.as_bytes()))
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
/// POSTs) and run one at a time, so at most one block is in use. The thread ends
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
                while let Some(job) = queue.blocking_recv() {
                    match job {
                        Job::Hash { password, reply } => {
                            let _ = reply.send(hash(&password));
                        }
                        Job::Verify {
                            password,
                            stored,
                            reply,
                        } => {
                            let _ = reply.send(verify(&password, &stored));
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
    fn verifies_hashes_of_the_argon2_crate_and_its_own() {
        use argon2::password_hash::PasswordHasher;
        let theirs = Argon2::default()
            .hash_password_with_salt(b"correct horse", b"saltsaltsaltsalt")
            .unwrap()
            .to_string();
        let ours = hash("another password").unwrap();
        assert!(verify("correct horse", &theirs));
        assert!(!verify("correct horsf", &theirs));
        assert!(verify("another password", &ours));
        assert!(!verify("correct horse", &ours));
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
        assert!(matches!(hash("        "), Err(PasswordError::Blank)));
        assert!(matches!(hash("Password"), Err(PasswordError::Common)));
        assert!(matches!(hash("12345678"), Err(PasswordError::Common)));
        assert!(matches!(hash("zzzzzzzzzz"), Err(PasswordError::Common)));
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
