//! Which hotel and year a first look should land on: the one with the most events counted, so
//! that a new user's first chart shows real volumes rather than the first hotel's quietest year.

use diesel::sql_types::{Array, Int4, Nullable, SmallInt};
use diesel_async::RunQueryDsl;

use super::store::{connection, DashboardStoreError};
use super::Basis;
use crate::db::PgPool;

#[derive(diesel::QueryableByName)]
struct HotelYear {
    #[diesel(sql_type = Int4)]
    hotel_id: i32,
    #[diesel(sql_type = Int4)]
    year: i32,
}

/// The hotel and year (on `basis`) with the most bookings plus cancellations counted, among
/// `hotels` (`None`: every hotel; a key's hotels for a caller limited to them), or `None` before
/// the dashboard has counted any event of them. Ties go to the later year, then to the lower
/// hotel id, so the answer does not change between two calls.
///
/// Each event is counted once on each basis, so summing one basis counts events, not
/// room-nights twice. It reads every event-basis row (one per hotel and day with events:
/// ~3,650 rows for a hotel with ten years of history), which is why a caller asks it only when
/// no hotel or year was chosen.
pub async fn busiest_hotel_year(
    pool: &PgPool,
    hotels: Option<&[i32]>,
    basis: Basis,
) -> Result<Option<(i32, i32)>, DashboardStoreError> {
    let mut conn = connection(pool).await?;
    let rows: Vec<HotelYear> = diesel::sql_query(
        "SELECT hotel_id, EXTRACT(YEAR FROM day)::int4 AS year \
         FROM dashboard_daily WHERE basis = $1 AND ($2::int4[] IS NULL OR hotel_id = ANY($2)) \
         GROUP BY 1, 2 \
         ORDER BY sum(bookings + cancellations) DESC, 2 DESC, 1 \
         LIMIT 1",
    )
    .bind::<SmallInt, _>(basis.code())
    .bind::<Nullable<Array<Int4>>, _>(hotels)
    .load(&mut conn)
    .await?;
    Ok(rows.into_iter().next().map(|r| (r.hotel_id, r.year)))
}
