//! The tokio client's helpers against a fake guest kept in memory (file copies, exec,
//! freeze) and against scripted peers (a freeze cancelled half-way).

mod common;

use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use common::commands::GuestPing;
use common::{pipelined_reads, quick_options, scripted, serve, FakeGuest};
use qga_client::{AsyncClient, CopyOptions, Error, ExecRequest, Options, Progress};
use qga_types::Empty;
use serde_json::json;
use tokio::net::UnixStream;

/// A tokio client connected to `guest`, served by a thread.
fn connect(guest: &Arc<Mutex<FakeGuest>>) -> (AsyncClient<UnixStream>, JoinHandle<()>) {
    connect_with(guest, quick_options())
}

fn connect_with(
    guest: &Arc<Mutex<FakeGuest>>,
    options: Options,
) -> (AsyncClient<UnixStream>, JoinHandle<()>) {
    let (client, agent) = std::os::unix::net::UnixStream::pair().unwrap();
    let guest = guest.clone();
    let thread = std::thread::spawn(move || {
        serve(agent, &mut |name, a| guest.lock().unwrap().handle(name, a))
    });
    client.set_nonblocking(true).unwrap();
    let client = UnixStream::from_std(client).unwrap();
    (AsyncClient::with_options(client, options), thread)
}

async fn join(thread: JoinHandle<()>) {
    tokio::task::spawn_blocking(move || thread.join().unwrap())
        .await
        .unwrap();
}

fn pattern(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i * 7 + i / 251) as u8).collect()
}

fn guest_with(files: &[(&str, Vec<u8>)]) -> Arc<Mutex<FakeGuest>> {
    let guest = Arc::new(Mutex::new(FakeGuest::new()));
    for (path, data) in files {
        guest
            .lock()
            .unwrap()
            .files
            .insert((*path).to_owned(), data.clone());
    }
    guest
}

#[tokio::test]
async fn reads_a_file_in_chunks_with_progress() {
    let data = pattern(10_000);
    let guest = guest_with(&[("/data", data.clone()), ("/empty", Vec::new())]);
    let (mut client, thread) = connect(&guest);

    let mut out = Vec::new();
    let mut reports = Vec::new();
    let mut on_progress = |p: Progress| reports.push(p);
    let options = CopyOptions {
        chunk_size: 3000,
        progress: Some(&mut on_progress),
    };
    assert_eq!(
        client
            .read_file_with("/data", &mut out, options)
            .await
            .unwrap(),
        10_000
    );
    assert_eq!(out, data);
    let done: Vec<u64> = reports.iter().map(|p| p.done).collect();
    assert_eq!(done, [3000, 6000, 9000, 10_000]);
    assert!(reports.iter().all(|p| p.total == Some(10_000)));

    let mut out = Vec::new();
    assert_eq!(client.read_file("/empty", &mut out).await.unwrap(), 0);
    assert!(out.is_empty());
    assert_eq!(
        guest.lock().unwrap().log.last().unwrap(),
        "guest-file-close"
    );
    drop(client);
    join(thread).await;
}

#[tokio::test]
async fn a_failed_read_still_closes_the_file() {
    let guest = guest_with(&[("/data", pattern(10_000))]);
    guest.lock().unwrap().fail_read = Some(2);
    let (mut client, thread) = connect(&guest);
    let mut out = Vec::new();
    let options = CopyOptions {
        chunk_size: 4000,
        progress: None,
    };
    let e = client
        .read_file_with("/data", &mut out, options)
        .await
        .unwrap_err();
    assert!(
        matches!(&e, Error::Agent { command, desc, .. } if command == "guest-file-read" && desc == "Input/output error"),
        "{e:?}"
    );
    assert_eq!(out.len(), 4000);
    assert_eq!(
        guest.lock().unwrap().log.last().unwrap(),
        "guest-file-close"
    );
    let e = client.read_file("/none", &mut out).await.unwrap_err();
    assert!(e.to_string().contains("No such file or directory"), "{e}");
    drop(client);
    join(thread).await;
}

#[tokio::test]
async fn writes_a_file_in_chunks_from_a_reader() {
    let guest = guest_with(&[]);
    let (mut client, thread) = connect(&guest);
    let data = pattern(10_000);
    let mut reports = Vec::new();
    let mut on_progress = |p: Progress| reports.push(p.done);
    let options = CopyOptions {
        chunk_size: 4096,
        progress: Some(&mut on_progress),
    };
    // A reader that hands out little at a time: chunks are still filled.
    let (mut writer, mut reader) = tokio::io::duplex(1000);
    let feed = data.clone();
    let feeding = tokio::spawn(async move {
        use tokio::io::AsyncWriteExt;
        writer.write_all(&feed).await.unwrap();
    });
    assert_eq!(
        client
            .write_file_with("/w", &mut reader, options)
            .await
            .unwrap(),
        10_000
    );
    feeding.await.unwrap();
    assert_eq!(reports, [4096, 8192, 10_000]);
    assert_eq!(guest.lock().unwrap().files["/w"], data);
    assert_eq!(
        client.write_file("/x", &mut &b""[..]).await.unwrap(),
        0,
        "an empty input makes an empty file"
    );
    assert!(guest.lock().unwrap().files["/x"].is_empty());
    assert_eq!(
        guest.lock().unwrap().log.last().unwrap(),
        "guest-file-close"
    );
    drop(client);
    join(thread).await;
}

#[tokio::test]
async fn copies_run_in_spawned_tasks() {
    let data = pattern(50_000);
    let guest = guest_with(&[("/data", data.clone())]);
    let (mut client, thread) = connect(&guest);
    // Spawning needs Send futures, progress reports included.
    let task = tokio::spawn(async move {
        let mut out = Vec::new();
        let mut calls = 0;
        let mut on_progress = |_: Progress| calls += 1;
        let options = CopyOptions {
            chunk_size: 10_000,
            progress: Some(&mut on_progress),
        };
        client
            .read_file_with("/data", &mut out, options)
            .await
            .unwrap();
        (out, calls)
    });
    let (out, calls) = task.await.unwrap();
    assert_eq!(out, data);
    // Five full chunks, then an empty one that says EOF.
    assert_eq!(calls, 6);
    join(thread).await;
}

#[tokio::test]
async fn exec_polls_until_the_program_ends_or_the_timeout() {
    let guest = guest_with(&[]);
    guest.lock().unwrap().programs.insert(
        "prog".into(),
        (3, b"to stdout".to_vec(), b"to stderr".to_vec()),
    );
    guest.lock().unwrap().exec_polls = 3;
    let (mut client, thread) = connect(&guest);
    let output = client
        .exec(&ExecRequest::new("prog").arg("-x").input("in"))
        .await
        .unwrap();
    assert_eq!(output.exit_code, Some(3));
    assert_eq!(output.stdout, b"to stdout");
    assert_eq!(output.stderr, b"to stderr");
    assert!(!output.success());
    {
        let g = guest.lock().unwrap();
        assert_eq!(g.exec_inputs, [b"in".to_vec()]);
        assert_eq!(
            g.log.iter().filter(|c| *c == "guest-exec-status").count(),
            4
        );
    }

    guest.lock().unwrap().exec_polls = 1_000_000;
    let e = client
        .exec(&ExecRequest::new("prog").timeout(Duration::from_millis(50)))
        .await
        .unwrap_err();
    assert!(matches!(e, Error::Timeout { .. }), "{e:?}");

    let e = client.exec(&ExecRequest::new("missing")).await.unwrap_err();
    assert!(e.is_agent_error(), "{e:?}");
    drop(client);
    join(thread).await;
}

#[tokio::test]
async fn the_freeze_guard_thaws_on_request() {
    let guest = guest_with(&[]);
    let (mut client, thread) = connect(&guest);
    let mut guard = client.freeze().await.unwrap();
    assert_eq!(guard.frozen(), 2);
    assert!(guest.lock().unwrap().frozen);
    guard.client().call::<GuestPing>(&Empty {}).await.unwrap();
    assert_eq!(guard.thaw().await.unwrap(), 2);
    assert!(!guest.lock().unwrap().frozen);

    let guard = client.freeze_list(&["/a"]).await.unwrap();
    assert_eq!(guard.thaw().await.unwrap(), 2);
    let freeze_list = guest
        .lock()
        .unwrap()
        .requests
        .iter()
        .find(|(name, _)| name == "guest-fsfreeze-freeze-list")
        .cloned()
        .unwrap();
    assert_eq!(freeze_list.1, json!({"mountpoints": ["/a"]}));
    drop(client);
    join(thread).await;
}

#[tokio::test]
async fn a_dropped_guard_thaws_in_a_task_before_the_next_call() {
    let guest = guest_with(&[]);
    let (mut client, thread) = connect(&guest);
    {
        let _guard = client.freeze().await.unwrap();
        assert!(guest.lock().unwrap().frozen);
        // Dropped here, as by an early return.
    }
    // The stream is with the thawing task until the next call takes it back.
    client.call::<GuestPing>(&Empty {}).await.unwrap();
    assert!(client.get_ref().is_some());
    let log = guest.lock().unwrap().log.clone();
    assert_eq!(
        log,
        ["guest-fsfreeze-freeze", "guest-fsfreeze-thaw", "guest-ping"]
    );
    assert!(!guest.lock().unwrap().frozen);

    // The task thaws even if nobody calls again.
    {
        let _guard = client.freeze().await.unwrap();
    }
    for _ in 0..200 {
        if !guest.lock().unwrap().frozen {
            break;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    assert!(!guest.lock().unwrap().frozen);
    drop(client);
    join(thread).await;
}

#[tokio::test]
async fn a_guard_dropped_in_a_panicking_task_still_thaws() {
    let guest = guest_with(&[]);
    let (client, thread) = connect(&guest);
    let task = tokio::spawn(async move {
        let mut client = client;
        let _guard = client.freeze().await.unwrap();
        panic!("the backup failed");
    });
    assert!(task.await.unwrap_err().is_panic());
    for _ in 0..200 {
        if !guest.lock().unwrap().frozen {
            break;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    assert!(!guest.lock().unwrap().frozen);
    join(thread).await;
}

#[test]
fn a_guard_dropped_outside_a_runtime_thaws_at_the_next_call() {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let guest = guest_with(&[]);
    let (mut client, thread) = runtime.block_on(async { connect(&guest) });
    let guard = runtime.block_on(client.freeze()).unwrap();
    // No runtime here: nothing can be spawned.
    drop(guard);
    assert!(guest.lock().unwrap().frozen);
    runtime
        .block_on(client.call::<GuestPing>(&Empty {}))
        .unwrap();
    assert!(!guest.lock().unwrap().frozen);
    assert_eq!(
        guest.lock().unwrap().log,
        ["guest-fsfreeze-freeze", "guest-fsfreeze-thaw", "guest-ping"]
    );
    drop(client);
    thread.join().unwrap();
}

#[tokio::test]
async fn a_freeze_cancelled_half_way_is_thawed_by_the_next_call() {
    let (stream, peer) = scripted(|mut peer| {
        peer.sync();
        peer.expect("guest-fsfreeze-freeze");
        // The answer comes after the caller gave up.
        let id = peer.read_sync();
        peer.reply(json!(1));
        peer.answer_sync(id);
        peer.expect("guest-fsfreeze-thaw");
        peer.reply(json!(1));
        peer.expect("guest-ping");
        peer.reply(json!({}));
    });
    stream.set_nonblocking(true).unwrap();
    let mut client = AsyncClient::with_options(
        UnixStream::from_std(stream).unwrap(),
        Options {
            timeout: Duration::from_secs(30),
            ..quick_options()
        },
    );
    let freeze = client.freeze();
    assert!(tokio::time::timeout(Duration::from_millis(100), freeze)
        .await
        .is_err());
    client.call::<GuestPing>(&Empty {}).await.unwrap();
    drop(client);
    join(peer).await;
}

#[tokio::test]
async fn a_thaw_that_cannot_reach_the_agent_stays_owed() {
    let (stream, peer) = scripted(|mut peer| {
        peer.sync();
        peer.expect("guest-fsfreeze-freeze");
        peer.reply(json!(1));
        peer.expect("guest-fsfreeze-thaw");
        // No answer: the thaw times out. The guard's drop retries in a task, which
        // syncs first and finds the agent back.
        peer.sync();
        peer.expect("guest-fsfreeze-thaw");
        peer.reply(json!(1));
        peer.sync();
        peer.expect("guest-ping");
        peer.reply(json!({}));
    });
    stream.set_nonblocking(true).unwrap();
    let mut client =
        AsyncClient::with_options(UnixStream::from_std(stream).unwrap(), quick_options());
    let guard = client.freeze().await.unwrap();
    let e = guard.thaw().await.unwrap_err();
    assert!(matches!(e, Error::Timeout { .. }), "{e:?}");
    client.call::<GuestPing>(&Empty {}).await.unwrap();
    drop(client);
    join(peer).await;
}

#[tokio::test]
async fn reads_keep_one_request_ahead_and_resync_after_a_failure() {
    let (stream, peer) = scripted(pipelined_reads);
    stream.set_nonblocking(true).unwrap();
    let mut client =
        AsyncClient::with_options(UnixStream::from_std(stream).unwrap(), quick_options());
    let options = |chunk_size| CopyOptions {
        chunk_size,
        progress: None,
    };

    let mut out = Vec::new();
    assert_eq!(
        client
            .read_file_with("/f", &mut out, options(4))
            .await
            .unwrap(),
        6
    );
    assert_eq!(out, b"abcdef");

    let e = client
        .read_file_with("/f", &mut Vec::new(), options(4))
        .await
        .unwrap_err();
    assert!(e.to_string().contains("Input/output error"), "{e}");
    drop(client);
    join(peer).await;
}
