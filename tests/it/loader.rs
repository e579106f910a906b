use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};

use roompulse::data_provider::load::{self, LoadError};
use roompulse::data_provider::queue::Queue;
use roompulse::data_provider::worker::parse_message;

use crate::common::fixtures::generated_rows;
use crate::common::redis::{self as test_redis, TestKeys, REDIS_URL};
use crate::helpers::{generated_csv, temp_dir};

async fn queued(queue: &Queue) -> Vec<String> {
    test_redis::queued(REDIS_URL, &queue.keys().queue).await
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
    let expected: Vec<_> = generated_rows(1500, 3).collect();
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
        last.starts_with("queued 300 events, rejected 1 row in "),
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

/// `roompulse` run in `dir` with its standard input fed by `feed` through a pipe (from another
/// thread, as a producer on the other end of a shell pipe would).
fn roompulse_piped(
    args: &[&str],
    queue_key: &str,
    dir: &Path,
    feed: impl FnOnce(&mut std::process::ChildStdin) -> std::io::Result<()> + Send + 'static,
) -> std::process::Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_roompulse"))
        .args(args)
        .current_dir(dir)
        .env("REDIS_URL", REDIS_URL)
        .env("EVENTS_QUEUE_KEY", queue_key)
        .env_remove("RUST_LOG")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    // The child may stop reading early (an error); the pipe then breaks, which is not the
    // writer's failure to report.
    let writer = std::thread::spawn(move || {
        let _ = feed(&mut stdin);
    });
    let out = child.wait_with_output().unwrap();
    writer.join().unwrap();
    out
}

/// (queued, rejected) from the summary, the last line of standard output.
fn summary_counts(out: &std::process::Output) -> (u64, u64) {
    assert!(out.status.success(), "{out:?}");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let last = stdout.lines().last().unwrap_or_default().to_string();
    let words: Vec<&str> = last.split([' ', ',']).collect();
    match words.as_slice() {
        ["queued", q, _, "", "rejected", r, ..] => (q.parse().unwrap(), r.parse().unwrap()),
        _ => panic!("not a summary: {last}"),
    }
}

/// Rows of a generated CSV export with lines replaced or inserted, CRLF as the export has.
fn edited_csv(path: &Path, edit: impl FnOnce(&mut Vec<String>)) -> Vec<u8> {
    let text = std::fs::read_to_string(path).unwrap();
    let mut lines: Vec<String> = text.split("\r\n").map(str::to_string).collect();
    edit(&mut lines);
    let bytes = lines.join("\r\n").into_bytes();
    std::fs::write(path, &bytes).unwrap();
    bytes
}

#[tokio::test]
async fn a_pipe_and_standard_input_load_exactly_what_the_file_loads() {
    let dir = temp_dir();
    // Larger than the reader's buffers, with rejects at the start, the middle and the end, so
    // that a second reader of the same pipe would have bytes to steal throughout.
    let csv = generated_csv(dir.path(), 20_000, 5);
    let bytes = edited_csv(&csv, |lines| {
        lines.insert(20_001, "bad,row,at,the,end,x".into());
        lines.insert(10_000, "bad,row,in,the,middle,x".into());
        lines.insert(2, "bad,row,at,the,start,x".into());
    });
    let keys = [TestKeys::new(), TestKeys::new(), TestKeys::new()];
    let rejects = [
        dir.path().join("file.rejects.csv"),
        dir.path().join("stdin.rejects.csv"), // the default for `-`, run in `dir`
        dir.path().join("dev-stdin.rejects.csv"),
    ];

    let from_file = roompulse(
        &[
            "load-events",
            csv.to_str().unwrap(),
            "--rejects",
            rejects[0].to_str().unwrap(),
        ],
        &keys[0].queue_key,
    );
    let piped = bytes.clone();
    let from_dash = roompulse_piped(&["load-events", "-"], &keys[1].queue_key, dir.path(), {
        move |w| w.write_all(&piped)
    });
    let piped = bytes.clone();
    let from_dev_stdin = roompulse_piped(
        &[
            "load-events",
            "/dev/stdin",
            "--rejects",
            rejects[2].to_str().unwrap(),
        ],
        &keys[2].queue_key,
        dir.path(),
        move |w| w.write_all(&piped),
    );

    assert_eq!(summary_counts(&from_file), (20_000, 3));
    assert_eq!(summary_counts(&from_dash), (20_000, 3));
    assert_eq!(summary_counts(&from_dev_stdin), (20_000, 3));
    let file_rejects = std::fs::read(&rejects[0]).unwrap();
    let lines: Vec<&str> = std::str::from_utf8(&file_rejects)
        .unwrap()
        .lines()
        .map(|l| l.split(',').next().unwrap())
        .collect();
    assert_eq!(lines, ["line", "3", "10002", "20004"]);
    for other in &rejects[1..] {
        assert_eq!(std::fs::read(other).unwrap(), file_rejects, "{other:?}");
    }
    let file_queue = queued(&keys[0].queue()).await;
    assert_eq!(file_queue.len(), 20_000);
    for k in &keys[1..] {
        assert!(queued(&k.queue()).await == file_queue, "{}", k.queue_key);
    }
}

#[tokio::test]
async fn an_unclosed_quote_costs_only_its_own_line() {
    let dir = temp_dir();
    let csv = generated_csv(dir.path(), 1000, 7);
    let mut broken = String::new();
    edited_csv(&csv, |lines| {
        lines[100].insert(0, '"'); // line 101: row 100's first field opens a quote
        broken = lines[100].clone();
    });
    let keys = TestKeys::new();
    let queue = keys.queue();
    let rejects = dir.path().join("r.csv");
    let report = load::load_events(&csv, &rejects, &queue, false)
        .await
        .unwrap();
    assert_eq!((report.queued, report.rejected), (999, 1));

    let rows: Vec<_> = generated_rows(1000, 7).collect();
    let expected: Vec<i64> = rows
        .iter()
        .enumerate()
        .filter(|(i, _)| *i != 99)
        .map(|(_, r)| r.id)
        .collect();
    let ids: Vec<i64> = queued(&queue)
        .await
        .iter()
        .map(|m| parse_message(m.as_bytes()).unwrap().id)
        .collect();
    assert_eq!(ids, expected);

    let mut r = csv::Reader::from_path(&rejects).unwrap();
    let got: Vec<csv::StringRecord> = r.records().map(Result::unwrap).collect();
    assert_eq!(got.len(), 1);
    assert_eq!(&got[0][0], "101");
    assert!(got[0][1].contains("quote"), "{:?}", &got[0][1]);
    assert_eq!(&got[0][2], broken);
}

const GOOD_HEADER: &str = "room_reservation_id,night_of_stay,id,status,event_timestamp,hotel_id\n";

fn good_row(id: u32) -> String {
    format!("0013e338-0158-4d5c-8698-aebe00cba360,2022-06-26,{id},1,2022-06-24 13:00:56,2607\n")
}

#[tokio::test]
async fn a_line_too_long_is_rejected_alone_and_not_kept_whole() {
    let dir = temp_dir();
    let csv = dir.path().join("long.csv");
    let mut text = format!("{GOOD_HEADER}{}", good_row(1));
    text.push_str(&"x".repeat(1 << 20));
    text.push_str(&format!("\n{}", good_row(2)));
    std::fs::write(&csv, text).unwrap();
    let keys = TestKeys::new();
    let queue = keys.queue();
    let rejects = dir.path().join("r.csv");
    let report = load::load_events(&csv, &rejects, &queue, false)
        .await
        .unwrap();
    assert_eq!((report.queued, report.rejected), (2, 1));
    assert!(std::fs::metadata(&rejects).unwrap().len() < 4096);
    let mut r = csv::Reader::from_path(&rejects).unwrap();
    let got: Vec<csv::StringRecord> = r.records().map(Result::unwrap).collect();
    assert_eq!(&got[0][0], "3");
    assert!(
        got[0][1].contains("1048576 bytes") && got[0][1].contains("65536"),
        "{:?}",
        &got[0][1]
    );

    // 50 MiB without a line break, through a pipe into the real command.
    let keys = TestKeys::new();
    let out = roompulse_piped(
        &["load-events", "-", "--rejects", "zeros.rejects.csv"],
        &keys.queue_key,
        dir.path(),
        |w| {
            w.write_all(GOOD_HEADER.as_bytes())?;
            w.write_all(good_row(1).as_bytes())?;
            let zeros = vec![0u8; 1 << 20];
            for _ in 0..50 {
                w.write_all(&zeros)?;
            }
            w.write_all(format!("\n{}", good_row(2)).as_bytes())
        },
    );
    assert_eq!(summary_counts(&out), (2, 1));
    let rejects = std::fs::read(dir.path().join("zeros.rejects.csv")).unwrap();
    assert!(rejects.len() < 4096, "{}", rejects.len());
    let rejects = String::from_utf8_lossy(&rejects);
    assert!(rejects.contains("52428800 bytes"), "{rejects}");
    assert_eq!(keys.queue().depth().await.unwrap(), 2);
}

#[tokio::test]
async fn a_rejects_path_naming_the_input_is_refused_before_reading() {
    let dir = temp_dir();
    let csv = generated_csv(dir.path(), 50, 2);
    let original = edited_csv(&csv, |lines| lines.insert(5, "not,a,row".into()));
    let hard = dir.path().join("hard-link.csv");
    std::fs::hard_link(&csv, &hard).unwrap();
    let soft = dir.path().join("symlink.csv");
    std::os::unix::fs::symlink(&csv, &soft).unwrap();
    let keys = TestKeys::new();

    let refused = |out: std::process::Output, how: &str| {
        assert!(!out.status.success(), "{how}: {out:?}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            stderr.starts_with("error: the rejects file ") && stderr.contains("is the input"),
            "{how}: {stderr}"
        );
        assert_eq!(
            std::fs::read(&csv).unwrap(),
            original,
            "{how}: the input is intact"
        );
    };
    let input = csv.to_str().unwrap();
    for rejects in [&csv, &hard, &soft] {
        let out = roompulse(
            &["load-events", input, "--rejects", rejects.to_str().unwrap()],
            &keys.queue_key,
        );
        refused(out, &rejects.display().to_string());
    }
    let out = Command::new(env!("CARGO_BIN_EXE_roompulse"))
        .args(["load-events", "-", "--rejects", input])
        .env("REDIS_URL", REDIS_URL)
        .env("EVENTS_QUEUE_KEY", &keys.queue_key)
        .stdin(std::fs::File::open(&csv).unwrap())
        .output()
        .unwrap();
    refused(out, "standard input redirected from the rejects path");
    assert_eq!(keys.queue().depth().await.unwrap(), 0, "nothing was read");
}

#[tokio::test]
async fn a_clean_run_removes_a_stale_rejects_file() {
    let dir = temp_dir();
    let csv = generated_csv(dir.path(), 20, 4);
    let rejects = load::default_rejects_path(&csv);
    std::fs::write(&rejects, "line,reason,row\n2,from an earlier run,x\n").unwrap();
    let keys = TestKeys::new();
    let out = roompulse(&["load-events", csv.to_str().unwrap()], &keys.queue_key);
    assert_eq!(summary_counts(&out), (20, 0));
    assert!(!rejects.exists(), "the stale rejects file is gone");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains(&format!(
            "removed the stale rejects file {} from an earlier run",
            rejects.display()
        )),
        "{stderr}"
    );
}
