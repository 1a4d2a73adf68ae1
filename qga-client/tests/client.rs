//! The blocking client against scripted peers: the sync handshake, stale and broken
//! output, timeouts, commands without a success response, error mapping.

mod common;

use std::time::{Duration, Instant};

use common::commands::{
    GuestGetHostName, GuestHostName, GuestPing, GuestShutdown, GuestShutdownArguments,
};
use common::{quick_options, scripted, STRAY_FF};
use qga_client::{Client, Error, Options};
use qga_types::Empty;
use serde_json::json;

#[test]
fn syncs_before_the_first_call_with_a_sentinel_and_a_random_id() {
    let (stream, peer) = scripted(|mut peer| {
        let id = peer.read_sync();
        assert_eq!(peer.sentinels, 1, "a 0xFF comes before the sync request");
        peer.answer_sync(id);
        peer.expect("guest-ping");
        peer.reply(json!({}));
        peer.expect("guest-get-host-name");
        peer.reply(json!({"host-name": "vm1"}));
        // No second sync: the stream stayed in sync.
        assert!(peer.next_request().is_none());
        assert_eq!(peer.sentinels, 1);
    });
    let mut client = Client::with_options(stream, quick_options());
    assert!(client.needs_sync());
    client.call::<GuestPing>(&Empty {}).unwrap();
    assert!(!client.needs_sync());
    let name = client.call::<GuestGetHostName>(&Empty {}).unwrap();
    assert_eq!(
        name,
        GuestHostName {
            host_name: "vm1".into()
        }
    );
    drop(client);
    peer.join().unwrap();
}

#[test]
fn sync_ids_differ_between_syncs() {
    let (stream, peer) = scripted(|mut peer| {
        let a = peer.sync();
        let b = peer.sync();
        assert_ne!(a, b);
    });
    let mut client = Client::with_options(stream, quick_options());
    client.sync().unwrap();
    client.sync().unwrap();
    drop(client);
    peer.join().unwrap();
}

#[test]
fn sync_skips_stale_output_and_the_agents_complaint_about_0xff() {
    let (stream, peer) = scripted(|mut peer| {
        let id = peer.read_sync();
        // (The peer already wrote QEMU's stray-0xFF error line.) Then: an old complete
        // response, an old partial one, garbage, an old sync answer, and ours.
        peer.send(b"{\"return\": {\"host-name\": \"stale\"}}\n{\"return\": {\"buf-b64\": \"AAAA");
        peer.send(b"\xff{\"return\": 12}\nnot json\n");
        peer.answer_sync(id);
        peer.expect("guest-get-host-name");
        peer.reply(json!({"host-name": "fresh"}));
    });
    let mut client = Client::with_options(stream, quick_options());
    assert_eq!(
        client
            .call::<GuestGetHostName>(&Empty {})
            .unwrap()
            .host_name,
        "fresh"
    );
    drop(client);
    peer.join().unwrap();
}

#[test]
fn the_stray_ff_error_line_alone_is_not_a_sync_answer() {
    let (stream, peer) = scripted(|mut peer| {
        peer.complain_about_ff = false;
        let _ = peer.read_sync();
        // Only the complaint, never the answer: the client must time out.
        peer.send(STRAY_FF);
        std::thread::sleep(Duration::from_millis(800));
    });
    let options = Options {
        sync_attempts: 1,
        ..quick_options()
    };
    let mut client = Client::with_options(stream, options);
    let e = client.sync().unwrap_err();
    assert!(matches!(e, Error::Timeout { .. }), "{e:?}");
    drop(client);
    peer.join().unwrap();
}

#[test]
fn a_stalled_call_times_out_and_its_late_answer_is_discarded() {
    let (stream, peer) = scripted(|mut peer| {
        peer.sync();
        peer.expect("guest-get-host-name");
        // Stall past the client's timeout...
        let id = peer.read_sync();
        // ...and answer the old request only now, before the new sync's answer.
        peer.reply(json!({"host-name": "late"}));
        peer.answer_sync(id);
        peer.expect("guest-get-host-name");
        peer.reply(json!({"host-name": "fresh"}));
    });
    let mut client = Client::with_options(stream, quick_options());
    let started = Instant::now();
    let e = client.call::<GuestGetHostName>(&Empty {}).unwrap_err();
    assert!(
        matches!(e, Error::Timeout { timeout } if timeout == Duration::from_millis(300)),
        "{e:?}"
    );
    assert!(started.elapsed() < Duration::from_secs(2));
    assert!(client.needs_sync());
    assert_eq!(
        client
            .call::<GuestGetHostName>(&Empty {})
            .unwrap()
            .host_name,
        "fresh"
    );
    drop(client);
    peer.join().unwrap();
}

#[test]
fn garbage_is_a_protocol_error_and_the_next_call_resyncs() {
    let (stream, peer) = scripted(|mut peer| {
        peer.sync();
        peer.expect("guest-get-host-name");
        peer.send(b"garbage\n{\"return\": {\"host-name\": \"stale\"}}\n");
        peer.sync();
        peer.expect("guest-get-host-name");
        peer.reply(json!({"host-name": "fresh"}));
    });
    let mut client = Client::with_options(stream, quick_options());
    let e = client.call::<GuestGetHostName>(&Empty {}).unwrap_err();
    assert!(
        matches!(&e, Error::Protocol(text) if text.contains("garbage")),
        "{e:?}"
    );
    assert!(client.needs_sync());
    assert_eq!(
        client
            .call::<GuestGetHostName>(&Empty {})
            .unwrap()
            .host_name,
        "fresh"
    );
    drop(client);
    peer.join().unwrap();
}

#[test]
fn broken_json_is_a_protocol_error_and_a_wrong_shape_is_not() {
    let (stream, peer) = scripted(|mut peer| {
        peer.sync();
        peer.expect("guest-get-host-name");
        peer.send(b"{\"return\": {\"host-name\": tru}}\n");
        peer.sync();
        peer.expect("guest-get-host-name");
        peer.reply(json!({"name": "x"}));
        // Still in sync: no new sync request.
        peer.expect("guest-ping");
        peer.reply(json!({}));
    });
    let mut client = Client::with_options(stream, quick_options());
    let e = client.call::<GuestGetHostName>(&Empty {}).unwrap_err();
    assert!(matches!(e, Error::Protocol(_)), "{e:?}");
    let e = client.call::<GuestGetHostName>(&Empty {}).unwrap_err();
    assert!(
        matches!(&e, Error::UnexpectedReply { command, .. } if command == "guest-get-host-name"),
        "{e:?}"
    );
    assert!(!client.needs_sync());
    client.call::<GuestPing>(&Empty {}).unwrap();
    drop(client);
    peer.join().unwrap();
}

#[test]
fn responses_in_pieces_and_several_per_write() {
    let (stream, peer) = scripted(|mut peer| {
        let id = peer.read_sync();
        let mut bytes = vec![0xFF];
        bytes.extend_from_slice(format!("{{\"return\": {id}}}\n").as_bytes());
        for byte in bytes {
            peer.send(&[byte]);
            std::thread::sleep(Duration::from_micros(200));
        }
        peer.expect("guest-ping");
        peer.expect_later_reply();
    });
    let mut client = Client::with_options(stream, quick_options());
    client.call::<GuestPing>(&Empty {}).unwrap();
    assert_eq!(
        client
            .call::<GuestGetHostName>(&Empty {})
            .unwrap()
            .host_name,
        "two"
    );
    drop(client);
    peer.join().unwrap();
}

trait LaterReply {
    fn expect_later_reply(&mut self);
}

impl LaterReply for common::Peer {
    /// Answers the pending ping and the next request in one write, the second split
    /// over lines.
    fn expect_later_reply(&mut self) {
        self.send(b"{\"return\": {}}\n");
        self.expect("guest-get-host-name");
        self.send(b"{\"return\":\n {\"host-name\":\n \"two\"}}");
    }
}

#[test]
fn a_response_over_the_limit_is_refused_and_the_client_recovers() {
    let (stream, peer) = scripted(|mut peer| {
        peer.sync();
        peer.expect("guest-get-host-name");
        peer.reply(json!({"host-name": "x".repeat(10_000)}));
        peer.sync();
        peer.expect("guest-get-host-name");
        peer.reply(json!({"host-name": "short"}));
    });
    let options = Options {
        max_response: 1000,
        ..quick_options()
    };
    let mut client = Client::with_options(stream, options);
    let e = client.call::<GuestGetHostName>(&Empty {}).unwrap_err();
    assert!(
        matches!(&e, Error::Protocol(text) if text.contains("longer than 1000")),
        "{e:?}"
    );
    assert_eq!(
        client
            .call::<GuestGetHostName>(&Empty {})
            .unwrap()
            .host_name,
        "short"
    );
    drop(client);
    peer.join().unwrap();
}

#[test]
fn sync_retries_after_a_timeout_and_ignores_the_late_answer() {
    let (stream, peer) = scripted(|mut peer| {
        let first = peer.read_sync();
        let second = peer.read_sync();
        assert_ne!(first, second);
        peer.answer_sync(first);
        peer.answer_sync(second);
        peer.expect("guest-ping");
        peer.reply(json!({}));
    });
    let mut client = Client::with_options(stream, quick_options());
    client.sync().unwrap();
    client.call::<GuestPing>(&Empty {}).unwrap();
    drop(client);
    peer.join().unwrap();
}

#[test]
fn sync_gives_up_after_its_attempts() {
    let (stream, peer) = scripted(|mut peer| {
        for _ in 0..3 {
            let _ = peer.read_sync();
        }
        assert!(peer.next_request().is_none());
    });
    let options = Options {
        sync_attempts: 3,
        sync_timeout: Duration::from_millis(100),
        ..quick_options()
    };
    let mut client = Client::with_options(stream, options);
    let started = Instant::now();
    let e = client.call::<GuestPing>(&Empty {}).unwrap_err();
    assert!(
        matches!(e, Error::Timeout { timeout } if timeout == Duration::from_millis(100)),
        "{e:?}"
    );
    assert!(started.elapsed() >= Duration::from_millis(300));
    drop(client);
    peer.join().unwrap();
}

#[test]
fn no_success_response_commands_succeed_on_silence() {
    let (stream, peer) = scripted(|mut peer| {
        peer.sync();
        let arguments = peer.expect("guest-shutdown");
        assert_eq!(arguments, json!({"mode": "halt"}));
        // Silence; the client resyncs before its next call, in case an answer comes.
        peer.sync();
        peer.expect("guest-ping");
        peer.reply(json!({}));
    });
    // The call timeout is long: success comes after the short no-response wait.
    let options = Options {
        timeout: Duration::from_secs(10),
        ..quick_options()
    };
    let mut client = Client::with_options(stream, options);
    client.sync().unwrap();
    let started = Instant::now();
    let arguments = GuestShutdownArguments {
        mode: Some("halt".into()),
    };
    client.call::<GuestShutdown>(&arguments).unwrap();
    let waited = started.elapsed();
    assert!(waited >= Duration::from_millis(100), "{waited:?}");
    assert!(waited < Duration::from_secs(5), "{waited:?}");
    assert!(client.needs_sync());
    client.call::<GuestPing>(&Empty {}).unwrap();
    drop(client);
    peer.join().unwrap();
}

#[test]
fn no_success_response_commands_succeed_on_end_of_file() {
    let (stream, peer) = scripted(|mut peer| {
        peer.sync();
        peer.expect("guest-shutdown");
        // The guest goes away.
    });
    let mut client = Client::with_options(
        stream,
        Options {
            no_response_wait: Duration::from_secs(5),
            ..quick_options()
        },
    );
    let started = Instant::now();
    client
        .call::<GuestShutdown>(&GuestShutdownArguments::default())
        .unwrap();
    assert!(started.elapsed() < Duration::from_secs(2));
    peer.join().unwrap();
    // The connection is gone for good.
    assert!(matches!(
        client.call::<GuestPing>(&Empty {}),
        Err(Error::Disconnected)
    ));
}

#[test]
fn no_success_response_commands_report_errors() {
    let (stream, peer) = scripted(|mut peer| {
        peer.sync();
        peer.expect("guest-shutdown");
        peer.error(
            "GenericError",
            "this feature or command is not currently supported",
        );
        peer.expect("guest-shutdown");
        peer.error("GenericError", "child process has failed to shutdown");
    });
    let mut client = Client::with_options(stream, quick_options());
    let e = client
        .call::<GuestShutdown>(&GuestShutdownArguments::default())
        .unwrap_err();
    assert!(
        matches!(&e, Error::Unsupported { command } if command == "guest-shutdown"),
        "{e:?}"
    );
    // An error answer leaves the stream in sync.
    assert!(!client.needs_sync());
    let e = client
        .call_raw_no_response("guest-shutdown", None)
        .unwrap_err();
    assert!(
        matches!(&e, Error::Agent { desc, .. } if desc == "child process has failed to shutdown"),
        "{e:?}"
    );
    drop(client);
    peer.join().unwrap();
}

#[test]
fn agent_errors_are_typed() {
    type Check = fn(&Error) -> bool;
    let cases: [(&str, &str, Check); 5] = [
        (
            "CommandNotFound",
            "The command guest-ping has not been found",
            |e| matches!(e, Error::CommandNotFound { .. }),
        ),
        (
            "CommandNotFound",
            "Command guest-ping has been disabled",
            |e| matches!(e, Error::CommandDisabled { .. }),
        ),
        (
            "CommandNotFound",
            "Command guest-ping has been disabled: the agent is in frozen state",
            |e| matches!(e, Error::CommandDisabled { desc, .. } if desc.ends_with("frozen state")),
        ),
        (
            "GenericError",
            "this feature or command is not currently supported",
            |e| matches!(e, Error::Unsupported { .. }),
        ),
        (
            "GenericError",
            "Parameter 'path' is missing",
            |e| matches!(e, Error::Agent { class, desc, command } if class == "GenericError" && desc == "Parameter 'path' is missing" && command == "guest-ping"),
        ),
    ];
    let (stream, peer) = scripted(move |mut peer| {
        peer.sync();
        for (class, desc, _) in cases {
            peer.expect("guest-ping");
            peer.error(class, desc);
        }
    });
    let mut client = Client::with_options(stream, quick_options());
    for (_, desc, check) in cases {
        let e = client.call::<GuestPing>(&Empty {}).unwrap_err();
        assert!(check(&e), "{desc}: {e:?}");
        assert!(e.is_agent_error());
    }
    drop(client);
    peer.join().unwrap();
}

#[test]
fn a_closed_connection_is_reported() {
    let (stream, peer) = scripted(|mut peer| {
        peer.sync();
        peer.expect("guest-ping");
    });
    let mut client = Client::with_options(stream, quick_options());
    assert!(matches!(
        client.call::<GuestPing>(&Empty {}),
        Err(Error::Disconnected)
    ));
    assert!(matches!(
        client.call::<GuestPing>(&Empty {}),
        Err(Error::Disconnected)
    ));
    peer.join().unwrap();
}

#[test]
fn raw_calls_and_capabilities() {
    let (stream, peer) = scripted(|mut peer| {
        peer.sync();
        let arguments = peer.expect("guest-file-open");
        assert_eq!(arguments, json!({"path": "/etc/hostname", "mode": "r"}));
        peer.reply(json!(1000));
        for _ in 0..2 {
            peer.expect("guest-info");
            peer.reply(json!({"version": "7.2", "supported_commands": [
                {"name": "guest-ping", "enabled": true, "success-response": true},
                {"name": "guest-exec", "enabled": false, "success-response": true}]}));
        }
    });
    let mut client = Client::with_options(stream, quick_options());
    let handle = client
        .call_raw(
            "guest-file-open",
            Some(&json!({"path": "/etc/hostname", "mode": "r"})),
        )
        .unwrap();
    assert_eq!(handle, json!(1000));
    assert!(client.supports("guest-ping").unwrap());
    assert!(!client.supports("guest-exec").unwrap());
    drop(client);
    peer.join().unwrap();
}

#[test]
fn connects_to_a_unix_socket_by_address() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("qga.sock");
    let listener = std::os::unix::net::UnixListener::bind(&path).unwrap();
    let peer = std::thread::spawn(move || {
        let (stream, _) = listener.accept().unwrap();
        let mut peer = common::Peer::new(stream);
        peer.sync();
        peer.expect("guest-ping");
        peer.reply(json!({}));
    });
    let address = format!("unix:{}", path.display()).parse().unwrap();
    let mut client = Client::connect(&address, quick_options()).unwrap();
    assert!(!client.needs_sync(), "connect syncs");
    client.call::<GuestPing>(&Empty {}).unwrap();
    drop(client);
    peer.join().unwrap();

    let missing = dir.path().join("none.sock");
    let e =
        Client::connect(&qga_client::Address::Unix(missing.clone()), quick_options()).unwrap_err();
    assert!(
        matches!(&e, Error::Connect { address, .. } if *address == missing.display().to_string()),
        "{e:?}"
    );
}

#[test]
fn connects_over_tcp() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let peer = std::thread::spawn(move || {
        let (mut stream, _) = listener.accept().unwrap();
        // The peer helpers speak over unix sockets; do this one by hand.
        use std::io::{BufRead, BufReader, Write};
        let mut reader = BufReader::new(stream.try_clone().unwrap());
        let mut line = Vec::new();
        reader.read_until(b'}', &mut line).unwrap();
        reader.read_until(b'}', &mut line).unwrap();
        let text = String::from_utf8_lossy(&line[1..]).to_string();
        let request: serde_json::Value = serde_json::from_str(&text).unwrap();
        let id = request["arguments"]["id"].as_i64().unwrap();
        stream
            .write_all(format!("{{\"return\": {id}}}\n").as_bytes())
            .unwrap();
    });
    let address: qga_client::Address = format!("tcp:127.0.0.1:{port}").parse().unwrap();
    // The answer lacks the 0xFF; the id alone is enough.
    Client::connect(&address, quick_options()).unwrap();
    peer.join().unwrap();
}

#[test]
fn an_unreachable_vsock_address_is_a_connect_error() {
    // No guest has CID 3 here, or the machine has no vsock at all: either way an error.
    let address: qga_client::Address = "vsock:3:1".parse().unwrap();
    let e = Client::connect(&address, quick_options()).unwrap_err();
    assert!(
        matches!(&e, Error::Connect { address, .. } if address == "vsock:3:1"),
        "{e:?}"
    );
}

#[test]
fn json_calls_send_typed_arguments_and_keep_the_whole_reply() {
    let (stream, peer) = scripted(|mut peer| {
        peer.sync();
        assert_eq!(peer.expect("guest-get-host-name"), json!({}));
        peer.reply(json!({"host-name": "vm1", "x-new-member": [1, 2]}));
        assert_eq!(peer.expect("guest-shutdown"), json!({"mode": "halt"}));
        // After silence the client cannot know the stream is in sync.
        peer.sync();
        peer.expect("guest-ping");
        peer.error(
            "CommandNotFound",
            "The command guest-ping has not been found",
        );
    });
    let mut client = Client::with_options(stream, quick_options());
    assert_eq!(
        client.call_json::<GuestGetHostName>(&Empty {}).unwrap(),
        json!({"host-name": "vm1", "x-new-member": [1, 2]})
    );
    // Silence is a command without a success response succeeding.
    assert_eq!(
        client
            .call_json::<GuestShutdown>(&GuestShutdownArguments {
                mode: Some("halt".into())
            })
            .unwrap(),
        json!({})
    );
    let e = client.call_json::<GuestPing>(&Empty {}).unwrap_err();
    assert!(matches!(e, Error::CommandNotFound { .. }), "{e:?}");
    drop(client);
    peer.join().unwrap();
}
