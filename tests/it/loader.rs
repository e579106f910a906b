use std::io::Write;
use std::process::Command;

use roompulse::data_provider::load::{self, LoadError};
use roompulse::data_provider::queue::Queue;
use roompulse::data_provider::worker::parse_message;

use crate::helpers::{generated_csv, temp_dir, TestKeys, REDIS_URL};

async fn queued(queue: &Queue) -> Vec<String> {
    let mut c = redis::Client::open(REDIS_URL)
        .unwrap()
        .get_multiplexed_async_connection()
        .await
        .unwrap();
    redis::cmd("LRANGE")
        .arg(&queue.keys().queue)
        .arg(0)
        .arg(-1)
        .query_async(&mut c)
        .await
        .unwrap()
}

#[tokio::test]
async fn an_export_shaped_like_the_seed_loads_every_row() {
    let dir = temp_dir();
    let csv = generated_csv(dir.path(), 1500, 3);
    let raw = std::fs::read(&csv).unwrap();
    assert!(
        raw.windows(4).any(|w| w == b"\r\n\r\n"),
        "fixture has the seed's trailing blank CRLF lines"
    );
    let keys = TestKeys::new();
    let queue = keys.queue();
    let rejects = dir.path().join("rejects.csv");
    let report = load::load_events(&csv, &rejects, &queue, false)
        .await
        .unwrap();
    assert_eq!((report.queued, report.rejected), (1500, 0));
    assert_eq!(report.rejects_path, None);
    assert!(!rejects.exists());
    let messages = queued(&queue).await;
    assert_eq!(messages.len(), 1500);
    let expected: Vec<_> = roompulse::data_provider::generate::rows(
        &roompulse::data_provider::generate::GenerateOptions {
            rows: 1500,
            hotels: 4,
            seed: 3,
            trailing_blank_lines: 0,
        },
    )
    .collect();
    for (m, row) in messages.iter().zip(&expected) {
        let e = parse_message(m.as_bytes()).unwrap();
        assert_eq!(
            (e.id, e.hotel_id, e.status, e.night_of_stay),
            (row.id, row.hotel_id, row.status, row.night_of_stay)
        );
        assert_eq!(
            (e.room_reservation_id, e.event_timestamp),
            (row.room_reservation_id, row.event_timestamp)
        );
    }
}

#[tokio::test]
async fn every_kind_of_bad_row_is_rejected_with_its_line_and_reason() {
    let dir = temp_dir();
    let csv = dir.path().join("mixed.csv");
    let good = |id: u32| {
        format!("0013e338-0158-4d5c-8698-aebe00cba360,2022-06-26,{id},1,2022-06-24 13:00:56,2607")
    };
    let mut lines: Vec<Vec<u8>> = vec![
        // Columns in another order, with the original system's names for two of them.
        b"hotel_id,id,rpg_status,timestamp,room_reservation_id,night_of_stay,extra".to_vec(),
    ];
    let rows: Vec<(&str, String)> = vec![
        ("ok", "2607,1,1,2022-06-24 13:00:56,0013e338-0158-4d5c-8698-aebe00cba360,2022-06-26,x".into()),
        ("too few fields", "2607,2,1,2022-06-24 13:00:56".into()),
        ("too many fields", "2607,3,1,2022-06-24 13:00:56,0013e338-0158-4d5c-8698-aebe00cba360,2022-06-26,x,y".into()),
        ("id", "2607,,1,2022-06-24 13:00:56,0013e338-0158-4d5c-8698-aebe00cba360,2022-06-26,x".into()),
        ("id", "2607,abc,1,2022-06-24 13:00:56,0013e338-0158-4d5c-8698-aebe00cba360,2022-06-26,x".into()),
        ("id", "2607,4611686018427387904,1,2022-06-24 13:00:56,0013e338-0158-4d5c-8698-aebe00cba360,2022-06-26,x".into()),
        ("hotel_id", "0,7,1,2022-06-24 13:00:56,0013e338-0158-4d5c-8698-aebe00cba360,2022-06-26,x".into()),
        ("status", "2607,8,3,2022-06-24 13:00:56,0013e338-0158-4d5c-8698-aebe00cba360,2022-06-26,x".into()),
        ("event_timestamp", "2607,9,1,24/06/2022,0013e338-0158-4d5c-8698-aebe00cba360,2022-06-26,x".into()),
        ("room_reservation_id", "2607,10,1,2022-06-24 13:00:56,not-a-uuid,2022-06-26,x".into()),
        ("night_of_stay", "2607,11,1,2022-06-24 13:00:56,0013e338-0158-4d5c-8698-aebe00cba360,2022-02-30,x".into()),
        ("ok", "\"2607\",12,2,\"2022-06-24T13:00:56Z\",0013E338-0158-4D5C-8698-AEBE00CBA360,2022-06-26,\"a,b\"".into()),
    ];
    let _ = good;
    for (_, row) in &rows {
        lines.push(row.clone().into_bytes());
    }
    let mut non_utf8 =
        b"2607,13,1,2022-06-24 13:00:56,0013e338-0158-4d5c-8698-aebe00cba360,2022-06-26,".to_vec();
    non_utf8.extend_from_slice(&[0xff, 0xfe]);
    lines.push(non_utf8); // an unknown column may hold anything: accepted
    let mut bad_utf8_field =
        b"26\xff07,14,1,2022-06-24 13:00:56,0013e338-0158-4d5c-8698-aebe00cba360,2022-06-26,x"
            .to_vec();
    lines.push(std::mem::take(&mut bad_utf8_field));
    let mut f = std::fs::File::create(&csv).unwrap();
    for l in &lines {
        f.write_all(l).unwrap();
        f.write_all(b"\r\n").unwrap();
    }
    f.write_all(b"\r\n\r\n\n").unwrap();
    drop(f);

    let keys = TestKeys::new();
    let queue = keys.queue();
    let rejects = dir.path().join("mixed.rejects.csv");
    let report = load::load_events(&csv, &rejects, &queue, false)
        .await
        .unwrap();
    assert_eq!(
        report.queued, 3,
        "rows 1, 12 and the one with a binary extra column"
    );
    assert_eq!(report.rejected, 11);
    assert_eq!(report.rejects_path.as_deref(), Some(rejects.as_path()));
    let ids: Vec<i64> = queued(&queue)
        .await
        .iter()
        .map(|m| parse_message(m.as_bytes()).unwrap().id)
        .collect();
    assert_eq!(ids, [1, 12, 13]);

    let mut r = csv::Reader::from_path(&rejects).unwrap();
    assert_eq!(r.headers().unwrap(), vec!["line", "reason", "row"]);
    // The original row is kept byte for byte, even where it is not UTF-8.
    let got: Vec<(u64, String, String)> = r
        .byte_records()
        .map(|rec| {
            let rec = rec.unwrap();
            let text = |i: usize| String::from_utf8_lossy(&rec[i]).into_owned();
            (text(0).parse().unwrap(), text(1), text(2))
        })
        .collect();
    let expected: Vec<(u64, &str)> = rows
        .iter()
        .enumerate()
        .filter(|(_, (what, _))| *what != "ok")
        .map(|(i, (what, _))| (i as u64 + 2, *what))
        .chain([(15, "hotel_id")])
        .collect();
    assert_eq!(got.len(), expected.len());
    for ((line, reason, row), (want_line, what)) in got.iter().zip(&expected) {
        assert_eq!(line, want_line, "{reason}");
        let what = match *what {
            "too few fields" => "expected 7 fields, found 4",
            "too many fields" => "expected 7 fields, found 8",
            field => field,
        };
        assert!(
            reason.contains(what),
            "line {line}: {reason:?} should mention {what}"
        );
        if *line < 14 {
            assert_eq!(row, &rows[*line as usize - 2].1, "the original row is kept");
        }
    }
}

#[tokio::test]
async fn a_file_that_cannot_be_loaded_is_an_error() {
    let dir = temp_dir();
    let keys = TestKeys::new();
    let queue = keys.queue();
    let missing_col = dir.path().join("missing.csv");
    std::fs::write(
        &missing_col,
        "room_reservation_id,night_of_stay,status,event_timestamp,hotel_id\r\n",
    )
    .unwrap();
    let err = load::load_events(&missing_col, &dir.path().join("r.csv"), &queue, false)
        .await
        .unwrap_err();
    assert!(matches!(err, LoadError::Header { .. }), "{err}");
    assert!(err.to_string().contains("id"), "{err}");

    let empty = dir.path().join("empty.csv");
    std::fs::write(&empty, "").unwrap();
    assert!(matches!(
        load::load_events(&empty, &dir.path().join("r.csv"), &queue, false).await,
        Err(LoadError::Header { .. })
    ));

    let nowhere = dir.path().join("nowhere.csv");
    assert!(matches!(
        load::load_events(&nowhere, &dir.path().join("r.csv"), &queue, false).await,
        Err(LoadError::Read { .. })
    ));

    let csv = generated_csv(dir.path(), 10, 1);
    let down = Queue::new("redis://127.0.0.1:1", queue.keys().clone(), 1).unwrap();
    let err = load::load_events(&csv, &dir.path().join("r.csv"), &down, false)
        .await
        .unwrap_err();
    assert!(matches!(err, LoadError::Queue { queued: 0, .. }), "{err}");
    assert!(err.to_string().contains("redis://127.0.0.1:1"), "{err}");
}

fn roompulse(args: &[&str], queue_key: &str) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_roompulse"))
        .args(args)
        .env("REDIS_URL", REDIS_URL)
        .env("EVENTS_QUEUE_KEY", queue_key)
        .env_remove("RUST_LOG")
        .output()
        .unwrap()
}

#[tokio::test]
async fn the_command_prints_a_summary_and_exits_by_outcome() {
    let dir = temp_dir();
    let keys = TestKeys::new();
    let csv = dir.path().join("gen.csv");
    let out = roompulse(
        &[
            "generate-events",
            "--rows",
            "300",
            "--hotels",
            "2",
            "--trailing-blank-lines",
            "50",
            "--output",
            csv.to_str().unwrap(),
        ],
        &keys.queue_key,
    );
    assert!(out.status.success(), "{out:?}");
    let mut text = std::fs::read_to_string(&csv).unwrap();
    text.push_str("not,a,valid,row,at,all\r\n");
    std::fs::write(&csv, text).unwrap();

    let out = roompulse(&["load-events", csv.to_str().unwrap()], &keys.queue_key);
    assert!(out.status.success(), "{out:?}");
    let stdout = String::from_utf8(out.stdout).unwrap();
    let last = stdout.lines().last().unwrap();
    assert!(
        last.starts_with("queued 300 events, rejected 1 rows in "),
        "{last}"
    );
    assert!(last.ends_with(" rows/s)"), "{last}");
    let rejects = std::fs::read_to_string(dir.path().join("gen.csv.rejects.csv")).unwrap();
    assert_eq!(rejects.lines().count(), 2);
    assert_eq!(keys.queue().depth().await.unwrap(), 300);

    let out = roompulse(
        &[
            "load-events",
            dir.path().join("absent.csv").to_str().unwrap(),
        ],
        &keys.queue_key,
    );
    assert!(!out.status.success());
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(stderr.starts_with("error: cannot read"), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
}
