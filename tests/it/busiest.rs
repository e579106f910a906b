//! The hotel and year a first look lands on: the most events, not the first hotel's latest year.

use reqwest::StatusCode;
use roompulse::dashboard::busiest::busiest_hotel_year;
use roompulse::dashboard::Basis;

use crate::common::fixtures::event_json;
use crate::helpers::TestApp;

#[tokio::test]
async fn the_busiest_hotel_and_year_is_the_one_with_the_most_events() {
    let app = TestApp::spawn().await;
    // Nothing counted yet: nothing to land on.
    assert_eq!(
        busiest_hotel_year(app.dashboard_db(), None, Basis::Event)
            .await
            .unwrap(),
        None
    );

    // Hotel 10 comes first, with one event in each of 2019 to 2022 (its latest year), all for
    // one night of 2023: four events on the stay basis's 2023, which must not count (a year is
    // the events' own). Hotel 20 had three events in 2021; hotel 30 ties it in 2020, earlier.
    let events = [
        (1, 10, "2019-03-01 10:00:00", 1, "2023-01-05"),
        (2, 10, "2020-03-01 10:00:00", 2, "2023-01-05"),
        (3, 10, "2021-03-01 10:00:00", 1, "2023-01-05"),
        (4, 10, "2022-03-01 10:00:00", 2, "2023-01-05"),
        (5, 20, "2021-01-01 10:00:00", 1, "2021-02-01"),
        (6, 20, "2021-06-01 10:00:00", 1, "2021-07-01"),
        (7, 20, "2021-09-01 10:00:00", 2, "2021-07-01"),
        (8, 30, "2020-01-01 10:00:00", 1, "2020-02-01"),
        (9, 30, "2020-02-01 10:00:00", 1, "2020-03-01"),
        (10, 30, "2020-03-01 10:00:00", 1, "2020-04-01"),
    ];
    for (id, hotel, ts, status, night) in events {
        let r = app
            .client
            .post(app.url("/events"))
            .json(&event_json(id, hotel, ts, status, night))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::CREATED);
    }
    app.synced(events.len() as i64, 500).await;
    assert_eq!(
        busiest_hotel_year(app.dashboard_db(), None, Basis::Event)
            .await
            .unwrap(),
        Some((20, 2021))
    );

    // The tie goes to the later year; one more event makes hotel 30's 2020 the busiest.
    let r = app
        .client
        .post(app.url("/events"))
        .json(&event_json(11, 30, "2020-04-01 10:00:00", 2, "2020-04-01"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::CREATED);
    app.synced(events.len() as i64 + 1, 500).await;
    assert_eq!(
        busiest_hotel_year(app.dashboard_db(), None, Basis::Event)
            .await
            .unwrap(),
        Some((30, 2020))
    );
    app.stop().await;
}
