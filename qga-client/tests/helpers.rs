//! The helpers against a fake guest kept in memory: file copies, exec, freeze.

mod common;

use std::os::unix::net::UnixStream;
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use common::{pipelined_reads, quick_options, scripted, serve, Answer, FakeGuest};
use qga_client::{Client, CopyOptions, Error, ExecRequest, Options, Progress};

/// A client connected to `guest`, served by a thread.
fn connect(guest: &Arc<Mutex<FakeGuest>>) -> (Client<UnixStream>, JoinHandle<()>) {
    let (client, agent) = UnixStream::pair().unwrap();
    let guest = guest.clone();
    let thread = std::thread::spawn(move || {
        serve(agent, &mut |name, a| guest.lock().unwrap().handle(name, a))
    });
    (Client::with_options(client, quick_options()), thread)
}

fn pattern(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i * 7 + i / 251) as u8).collect()
}

#[test]
fn reads_a_file_in_chunks_with_progress() {
    let guest = Arc::new(Mutex::new(FakeGuest::new()));
    let data = pattern(10_000);
    guest
        .lock()
        .unwrap()
        .files
        .insert("/data".into(), data.clone());
    let (mut client, thread) = connect(&guest);

    let mut out = Vec::new();
    let mut reports = Vec::new();
    let mut on_progress = |p: Progress| reports.push(p);
    let options = CopyOptions {
        chunk_size: 3000,
        progress: Some(&mut on_progress),
    };
    assert_eq!(
        client.read_file_with("/data", &mut out, options).unwrap(),
        10_000
    );
    assert_eq!(out, data);
    let done: Vec<u64> = reports.iter().map(|p| p.done).collect();
    assert_eq!(done, [3000, 6000, 9000, 10_000]);
    assert!(reports.iter().all(|p| p.total == Some(10_000)));

    // Without progress, no seeks; and an empty file.
    guest
        .lock()
        .unwrap()
        .files
        .insert("/empty".into(), Vec::new());
    let mut out = Vec::new();
    assert_eq!(client.read_file("/empty", &mut out).unwrap(), 0);
    assert!(out.is_empty());
    let log = guest.lock().unwrap().log.clone();
    let after_first = log.iter().rposition(|c| c == "guest-file-open").unwrap();
    assert!(
        !log[after_first..].iter().any(|c| c == "guest-file-seek"),
        "{log:?}"
    );
    assert_eq!(log.last().unwrap(), "guest-file-close");

    drop(client);
    thread.join().unwrap();
}

#[test]
fn reads_keep_one_request_ahead_and_resync_after_a_failure() {
    let (stream, peer) = scripted(pipelined_reads);
    let mut client = Client::with_options(stream, quick_options());
    let options = |chunk_size| CopyOptions {
        chunk_size,
        progress: None,
    };

    let mut out = Vec::new();
    assert_eq!(
        client.read_file_with("/f", &mut out, options(4)).unwrap(),
        6
    );
    assert_eq!(out, b"abcdef");

    let e = client
        .read_file_with("/f", &mut Vec::new(), options(4))
        .unwrap_err();
    assert!(e.to_string().contains("Input/output error"), "{e}");
    drop(client);
    peer.join().unwrap();
}

#[test]
fn a_failed_read_still_closes_the_file() {
    let guest = Arc::new(Mutex::new(FakeGuest::new()));
    guest
        .lock()
        .unwrap()
        .files
        .insert("/data".into(), pattern(10_000));
    guest.lock().unwrap().fail_read = Some(2);
    let (mut client, thread) = connect(&guest);

    let mut out = Vec::new();
    let options = CopyOptions {
        chunk_size: 4000,
        progress: None,
    };
    let e = client
        .read_file_with("/data", &mut out, options)
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

    // Opening a missing file fails without a handle to close.
    let e = client.read_file("/none", &mut out).unwrap_err();
    assert!(e.to_string().contains("No such file or directory"), "{e}");

    drop(client);
    thread.join().unwrap();
}

#[test]
fn a_failing_local_writer_is_a_local_error_and_the_file_is_closed() {
    struct Broken;
    impl std::io::Write for Broken {
        fn write(&mut self, _: &[u8]) -> std::io::Result<usize> {
            Err(std::io::Error::other("disk full"))
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let guest = Arc::new(Mutex::new(FakeGuest::new()));
    guest
        .lock()
        .unwrap()
        .files
        .insert("/data".into(), pattern(100));
    let (mut client, thread) = connect(&guest);
    let e = client.read_file("/data", &mut Broken).unwrap_err();
    assert!(
        matches!(&e, Error::Local(io) if io.to_string() == "disk full"),
        "{e:?}"
    );
    assert!(
        !client.needs_sync(),
        "a local failure leaves the stream in sync"
    );
    assert_eq!(
        guest.lock().unwrap().log.last().unwrap(),
        "guest-file-close"
    );
    drop(client);
    thread.join().unwrap();
}

#[test]
fn writes_a_file_in_chunks() {
    let guest = Arc::new(Mutex::new(FakeGuest::new()));
    let (mut client, thread) = connect(&guest);
    let data = pattern(10_000);

    let mut reports = Vec::new();
    let mut on_progress = |p: Progress| reports.push(p.done);
    let options = CopyOptions {
        chunk_size: 4096,
        progress: Some(&mut on_progress),
    };
    assert_eq!(
        client
            .write_file_with("/out", &mut &data[..], options)
            .unwrap(),
        10_000
    );
    assert_eq!(guest.lock().unwrap().files["/out"], data);
    assert_eq!(reports, [4096, 8192, 10_000]);

    // An exact multiple of the chunk, and an empty input (which truncates).
    assert_eq!(
        client
            .write_file_with(
                "/out",
                &mut &data[..8192],
                CopyOptions {
                    chunk_size: 4096,
                    progress: None
                }
            )
            .unwrap(),
        8192
    );
    assert_eq!(guest.lock().unwrap().files["/out"], &data[..8192]);
    assert_eq!(client.write_file("/out", &mut &b""[..]).unwrap(), 0);
    assert!(guest.lock().unwrap().files["/out"].is_empty());
    let log = guest.lock().unwrap().log.clone();
    assert_eq!(
        log.iter().filter(|c| *c == "guest-file-open").count(),
        log.iter().filter(|c| *c == "guest-file-close").count()
    );

    drop(client);
    thread.join().unwrap();
}

#[test]
fn a_failing_local_reader_still_closes_the_guest_file() {
    struct Broken(usize);
    impl std::io::Read for Broken {
        fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
            if self.0 == 0 {
                return Err(std::io::Error::other("bad sector"));
            }
            self.0 -= 1;
            buf[..10].fill(b'x');
            Ok(10)
        }
    }
    let guest = Arc::new(Mutex::new(FakeGuest::new()));
    let (mut client, thread) = connect(&guest);
    let e = client
        .write_file_with(
            "/out",
            &mut Broken(3),
            CopyOptions {
                chunk_size: 20,
                progress: None,
            },
        )
        .unwrap_err();
    assert!(
        matches!(&e, Error::Local(io) if io.to_string() == "bad sector"),
        "{e:?}"
    );
    assert_eq!(guest.lock().unwrap().files["/out"].len(), 20);
    assert_eq!(
        guest.lock().unwrap().log.last().unwrap(),
        "guest-file-close"
    );
    drop(client);
    thread.join().unwrap();
}

#[test]
fn a_short_write_is_an_error() {
    let (client, agent) = UnixStream::pair().unwrap();
    let thread = std::thread::spawn(move || {
        serve(agent, &mut |name, _| match name {
            "guest-file-open" => Answer::Return(serde_json::json!(7)),
            "guest-file-write" => Answer::Return(serde_json::json!({"count": 3, "eof": false})),
            _ => Answer::Return(serde_json::json!({})),
        })
    });
    let mut client = Client::with_options(client, quick_options());
    let e = client
        .write_file("/full", &mut &b"0123456789"[..])
        .unwrap_err();
    assert!(
        matches!(&e, Error::ShortWrite { path, written: 3 } if path == "/full"),
        "{e:?}"
    );
    drop(client);
    thread.join().unwrap();
}

#[test]
fn exec_polls_until_the_program_ends() {
    let guest = Arc::new(Mutex::new(FakeGuest::new()));
    {
        let mut g = guest.lock().unwrap();
        g.programs
            .insert("prog".into(), (3, b"out\n".to_vec(), b"err\n".to_vec()));
        g.exec_polls = 4;
    }
    let (mut client, thread) = connect(&guest);
    let request = ExecRequest::new("prog")
        .arg("-x")
        .env("A", "1")
        .input(&b"stdin data"[..]);
    let output = client.exec(&request).unwrap();
    assert_eq!(output.exit_code, Some(3));
    assert_eq!(output.status(), 3);
    assert_eq!(output.stdout, b"out\n");
    assert_eq!(output.stderr, b"err\n");
    {
        let g = guest.lock().unwrap();
        assert_eq!(g.exec_inputs, [b"stdin data".to_vec()]);
        assert_eq!(g.exec_env, [vec!["A=1".to_owned()]]);
        assert_eq!(
            g.log.iter().filter(|c| *c == "guest-exec-status").count(),
            5
        );
    }

    let e = client.exec(&ExecRequest::new("missing")).unwrap_err();
    assert!(e.is_agent_error(), "{e:?}");
    drop(client);
    thread.join().unwrap();
}

#[test]
fn exec_gives_up_after_its_timeout() {
    let guest = Arc::new(Mutex::new(FakeGuest::new()));
    {
        let mut g = guest.lock().unwrap();
        g.programs
            .insert("slow".into(), (0, Vec::new(), Vec::new()));
        g.exec_polls = usize::MAX;
    }
    let (mut client, thread) = connect(&guest);
    let timeout = Duration::from_millis(150);
    let e = client
        .exec(&ExecRequest::new("slow").timeout(timeout))
        .unwrap_err();
    assert!(
        matches!(e, Error::Timeout { timeout: t } if t == timeout),
        "{e:?}"
    );
    // The backoff keeps the polls few: 1, 2, 4 ... 100 ms.
    let polls = guest
        .lock()
        .unwrap()
        .log
        .iter()
        .filter(|c| *c == "guest-exec-status")
        .count();
    // (Fewer on a loaded machine, where each poll takes longer; a busy loop would make
    // a hundred.)
    assert!((2..=12).contains(&polls), "{polls} polls");
    drop(client);
    thread.join().unwrap();
}

#[test]
fn the_freeze_guard_thaws_on_drop_and_on_request() {
    let guest = Arc::new(Mutex::new(FakeGuest::new()));
    let (mut client, thread) = connect(&guest);
    {
        let mut frozen = client.freeze().unwrap();
        assert_eq!(frozen.frozen(), 2);
        assert!(guest.lock().unwrap().frozen);
        assert_eq!(
            frozen
                .client()
                .call_raw("guest-fsfreeze-status", None)
                .unwrap(),
            "frozen"
        );
    }
    assert!(!guest.lock().unwrap().frozen, "dropping the guard thaws");

    let frozen = client.freeze_list(&["/mnt/a", "/mnt/b"]).unwrap();
    assert_eq!(frozen.thaw().unwrap(), 2);
    let log = guest.lock().unwrap().log.clone();
    assert_eq!(
        log,
        [
            "guest-fsfreeze-freeze",
            "guest-fsfreeze-status",
            "guest-fsfreeze-thaw",
            "guest-fsfreeze-freeze-list",
            "guest-fsfreeze-thaw"
        ]
    );
    drop(client);
    thread.join().unwrap();
}

#[test]
fn a_freeze_without_a_clear_answer_is_thawed_to_be_safe() {
    for answer in [&b""[..], b"garbage\n"] {
        let thaws = Arc::new(Mutex::new(0));
        let (client, agent) = UnixStream::pair().unwrap();
        let counted = thaws.clone();
        let thread = std::thread::spawn(move || {
            serve(agent, &mut |name, _| match name {
                "guest-fsfreeze-freeze" if answer.is_empty() => Answer::Silent,
                "guest-fsfreeze-freeze" => Answer::Raw(answer.to_vec()),
                "guest-fsfreeze-thaw" => {
                    *counted.lock().unwrap() += 1;
                    Answer::Return(serde_json::json!(1))
                }
                _ => Answer::Error("GenericError", "unexpected".into()),
            })
        });
        let options = Options {
            freeze_timeout: Duration::from_millis(200),
            ..quick_options()
        };
        let mut client = Client::with_options(client, options);
        let e = client.freeze().unwrap_err();
        if answer.is_empty() {
            assert!(
                matches!(e, Error::Timeout { timeout } if timeout == Duration::from_millis(300)),
                "{e:?}"
            );
        } else {
            assert!(matches!(e, Error::Protocol(_)), "{e:?}");
        }
        assert_eq!(*thaws.lock().unwrap(), 1);
        drop(client);
        thread.join().unwrap();
    }
}

#[test]
fn a_refused_freeze_is_not_thawed() {
    let (client, agent) = UnixStream::pair().unwrap();
    let thread = std::thread::spawn(move || {
        serve(agent, &mut |name, _| match name {
            "guest-fsfreeze-freeze" => Answer::Error(
                "CommandNotFound",
                "Command guest-fsfreeze-freeze has been disabled".into(),
            ),
            _ => panic!("unexpected {name}"),
        })
    });
    let mut client = Client::with_options(client, quick_options());
    let e = client.freeze().unwrap_err();
    assert!(matches!(e, Error::CommandDisabled { .. }), "{e:?}");
    drop(client);
    thread.join().unwrap();
}
