//! Recent answers, kept for `DASHBOARD_CACHE_MS` and only until the sync commits a page that
//! changes the figures: each answer is kept with the generation of the figures it was read in
//! (`freshness.rs`), and one of an older generation is a miss. A dashboard polled by many screens
//! (or a pricing system) asks the same few questions over and over, more often than the figures
//! change.
//!
//! Anyone who may read the dashboard can ask distinct questions at will, so a cache is bounded
//! twice: an answer is dropped once its time is up, and the answers held never weigh more than
//! its bytes (the least used go first). `GET /dashboard` and the pace and forecast endpoints
//! keep their answers in a cache each, so that neither kind crowds out the other.

use std::future::Future;
use std::hash::Hash;
use std::time::Duration;

use axum::body::Bytes;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use serde::Serialize;

use crate::error::ApiError;

/// What an answer weighs in a cache, in bytes (about).
pub trait Weight {
    fn weight(&self) -> usize;
}

impl Weight for Bytes {
    fn weight(&self) -> usize {
        self.len()
    }
}

pub struct AnswerCache<Q, A> {
    /// `None` when the TTL is zero: every request reads the figures.
    answers: Option<moka::sync::Cache<Q, (u64, A)>>,
}

impl<Q, A> AnswerCache<Q, A>
where
    Q: Hash + Eq + Send + Sync + 'static,
    A: Weight + Clone + Send + Sync + 'static,
{
    /// The bytes of answers a cache keeps at most by default.
    pub const MAX_BYTES: u64 = 64 * 1024 * 1024;

    pub fn new(ttl: Duration) -> Self {
        Self::with_capacity(ttl, Self::MAX_BYTES)
    }

    pub fn with_capacity(ttl: Duration, max_bytes: u64) -> Self {
        let answers = (!ttl.is_zero()).then(|| {
            moka::sync::Cache::builder()
                .time_to_live(ttl)
                .max_capacity(max_bytes)
                .weigher(|_: &Q, (_, answer): &(u64, A)| {
                    let bytes = std::mem::size_of::<Q>() + answer.weight();
                    u32::try_from(bytes).unwrap_or(u32::MAX)
                })
                .build()
        });
        Self { answers }
    }

    /// Whether answers are kept at all (`DASHBOARD_CACHE_MS` is not 0).
    pub fn is_on(&self) -> bool {
        self.answers.is_some()
    }

    /// The answer to `q` kept in `generation` of the figures.
    pub fn get(&self, q: &Q, generation: u64) -> Option<A> {
        let (kept_in, answer) = self.answers.as_ref()?.get(q)?;
        (kept_in == generation).then_some(answer)
    }

    /// Keeps `answer`, read in `generation` of the figures.
    pub fn put(&self, q: Q, generation: u64, answer: A) {
        if let Some(answers) = &self.answers {
            answers.insert(q, (generation, answer));
        }
    }

    /// Answers held and the bytes they weigh, once expiries and evictions due have been
    /// applied (the cache applies them lazily otherwise).
    pub fn held(&self) -> (u64, u64) {
        match &self.answers {
            Some(answers) => {
                answers.run_pending_tasks();
                (answers.entry_count(), answers.weighted_size())
            }
            None => (0, 0),
        }
    }
}

impl<Q> AnswerCache<Q, Bytes>
where
    Q: Hash + Eq + Send + Sync + 'static,
{
    /// The JSON answer to `q`: kept in `generation` of the figures (`None`: read them), or
    /// `compute`d, written into one buffer of about `bytes`, and kept.
    pub async fn json<T: Serialize>(
        &self,
        generation: Option<u64>,
        q: Q,
        bytes: usize,
        compute: impl Future<Output = Result<T, ApiError>>,
    ) -> Result<Response, ApiError> {
        let json = match generation.and_then(|g| self.get(&q, g)) {
            Some(json) => json,
            None => {
                let mut buffer = Vec::with_capacity(bytes);
                serde_json::to_writer(&mut buffer, &compute.await?)
                    .map_err(|e| ApiError::Internal(e.to_string()))?;
                let json = Bytes::from(buffer);
                if let Some(g) = generation {
                    self.put(q, g, json.clone());
                }
                json
            }
        };
        Ok(([(header::CONTENT_TYPE, "application/json")], json).into_response())
    }
}
