//! The workers' binary COPY path into the events table.

use super::StoreError;
use crate::data_provider::event::Event;
use crate::db::quote_identifier;

/// The workers' fast path: a binary COPY, about twice as fast as `insert_batch` for PostgreSQL
/// (see BENCHMARKS.md). diesel-async has no COPY, so this is a plain tokio-postgres connection,
/// opened on first use and again after it breaks.
pub struct CopyConnection {
    url: String,
    client: Option<tokio_postgres::Client>,
}

impl CopyConnection {
    pub fn new(url: &str) -> Self {
        Self {
            url: url.to_string(),
            client: None,
        }
    }

    async fn client(&mut self) -> Result<&mut tokio_postgres::Client, StoreError> {
        if self.client.as_ref().is_none_or(|c| c.is_closed()) {
            let (client, conn) = tokio_postgres::connect(&self.url, tokio_postgres::NoTls).await?;
            tokio::spawn(async move {
                if let Err(e) = conn.await {
                    tracing::debug!(error = %e, "COPY connection closed");
                }
            });
            self.client = Some(client);
        }
        self.client
            .as_mut()
            .ok_or_else(|| StoreError::Unavailable("no connection".into()))
    }

    /// Stores all of `batch` in one transaction, or nothing: returns `Ok(false)` when an id is
    /// already stored, repeats within the batch, or was retired (its claim fails), or when the
    /// batch's arrivals outran the partitions created ahead, for `insert_batch` to sort out.
    pub async fn copy_batch(&mut self, batch: &[Event]) -> Result<bool, StoreError> {
        use tokio_postgres::error::SqlState;

        if batch.is_empty() {
            return Ok(true);
        }
        let result = async {
            let client = self.client().await?;
            let n = batch.len() as i64;
            // In a transaction of its own: attaching a partition holds a lock on `events` until
            // commit that would otherwise last the batch.
            client
                .execute("SELECT roompulse_add_event_partitions($1)", &[&n])
                .await?;
            let tx = client.transaction().await?;
            // One round trip for the batch's feed position instead of the column default's
            // function call per row.
            let position: i64 = tx
                .query_one("SELECT roompulse_feed_position()", &[])
                .await?
                .try_get(0)?;
            // Id order, as in insert_batch: overlapping batches then wait on each other instead
            // of deadlocking.
            let mut order: Vec<&Event> = batch.iter().collect();
            order.sort_by_key(|e| e.id);
            let ids: Vec<i64> = order.iter().map(|e| e.id).collect();
            if tx.execute(super::claim::CLAIM_ALL, &[&ids]).await? != n as u64 {
                return Ok(false);
            }
            let arrivals: Vec<i64> = tx
                .query_one(super::claim::TAKE_ARRIVALS, &[&n])
                .await?
                .try_get(0)?;
            let first = arrivals.first().copied().unwrap_or_default();
            let partitions = tx
                .query(super::claim::PARTITIONS_FROM, &[&first])
                .await?
                .iter()
                .map(|r| Ok((r.try_get(0)?, r.try_get(1)?)))
                .collect::<Result<Vec<(String, i64)>, tokio_postgres::Error>>()?;
            let Some(groups) = super::claim::route(&arrivals, &partitions) else {
                return Ok(false); // another writer took the arrivals meant as headroom
            };
            let groups: Vec<(String, std::ops::Range<usize>)> = groups
                .into_iter()
                .map(|(partition, range)| (quote_identifier(partition), range))
                .collect();
            for (partition, range) in groups {
                copy_events(
                    tx.client(),
                    &partition,
                    Some(position),
                    Some(&arrivals[range.clone()]),
                    order[range].to_vec(),
                )
                .await?;
            }
            tx.commit().await?;
            Ok::<_, StoreError>(true)
        }
        .await;
        match result {
            Err(StoreError::Copy(e)) if e.code() == Some(&SqlState::UNIQUE_VIOLATION) => Ok(false),
            Err(e) => {
                if e.is_transient() {
                    self.client = None;
                }
                Err(e)
            }
            ok => ok,
        }
    }
}

/// Writes `events`, in the order given, into `table` (the events table, or a table made `LIKE
/// events`; a name from the code, never from input) with one binary COPY on `client`, inside
/// whatever transaction `client` is in; returns the rows written. With `position` every row gets
/// it as its `tx_id`; without, the table's default for `tx_id` is evaluated for each row. With
/// `arrivals` (as many as events, and `position` given), the rows get them as their `arrival`.
pub async fn copy_events<E: std::borrow::Borrow<Event>>(
    client: &tokio_postgres::Client,
    table: &str,
    position: Option<i64>,
    arrivals: Option<&[i64]>,
    events: impl IntoIterator<Item = E>,
) -> Result<u64, tokio_postgres::Error> {
    use futures_util::pin_mut;
    use tokio_postgres::binary_copy::BinaryCopyInWriter;
    use tokio_postgres::types::{ToSql, Type};

    const COLUMNS: &str =
        "id, hotel_id, event_timestamp, status, room_reservation_id, night_of_stay";
    const TYPES: [Type; 8] = [
        Type::INT8,
        Type::INT4,
        Type::TIMESTAMPTZ,
        Type::INT2,
        Type::UUID,
        Type::DATE,
        Type::INT8,
        Type::INT8,
    ];
    let (statement, columns) = match (position, arrivals) {
        (Some(_), Some(_)) => (
            format!("COPY {table} ({COLUMNS}, tx_id, arrival) FROM STDIN BINARY"),
            8,
        ),
        (Some(_), None) => (
            format!("COPY {table} ({COLUMNS}, tx_id) FROM STDIN BINARY"),
            7,
        ),
        (None, _) => (format!("COPY {table} ({COLUMNS}) FROM STDIN BINARY"), 6),
    };
    let sink = client.copy_in(&statement).await?;
    let writer = BinaryCopyInWriter::new(sink, &TYPES[..columns]);
    pin_mut!(writer);
    let position = position.unwrap_or_default();
    let mut rows = 0;
    for (i, e) in events.into_iter().enumerate() {
        let e = e.borrow();
        let arrival = arrivals.and_then(|a| a.get(i)).copied().unwrap_or_default();
        let row: [&(dyn ToSql + Sync); 8] = [
            &e.id,
            &e.hotel_id,
            &e.event_timestamp,
            &e.status,
            &e.room_reservation_id,
            &e.night_of_stay,
            &position,
            &arrival,
        ];
        writer.as_mut().write(&row[..columns]).await?;
        rows += 1;
    }
    writer.finish().await?;
    Ok(rows)
}
