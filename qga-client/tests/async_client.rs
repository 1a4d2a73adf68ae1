//! The tokio client against scripted peers.

mod common;

use std::time::Duration;

use common::commands::{GuestGetHostName, GuestPing, GuestShutdown, GuestShutdownArguments};
use common::{quick_options, scripted};
use qga_client::{AsyncClient, Error, Options};
use qga_types::Empty;
use serde_json::json;

fn client(
    stream: std::os::unix::net::UnixStream,
    options: Options,
) -> AsyncClient<tokio::net::UnixStream> {
    stream.set_nonblocking(true).unwrap();
    AsyncClient::with_options(tokio::net::UnixStream::from_std(stream).unwrap(), options)
}

#[tokio::test]
async fn syncs_calls_and_recovers_from_a_timeout() {
    let (stream, peer) = scripted(|mut peer| {
        let id = peer.read_sync();
        assert_eq!(peer.sentinels, 1);
        peer.send(b"{\"return\": {\"stale\": true}}\n");
        peer.answer_sync(id);
        peer.expect("guest-get-host-name");
        peer.reply(json!({"host-name": "one"}));
        peer.expect("guest-get-host-name");
        // Stall; answer late, after the resync request.
        let id = peer.read_sync();
        peer.reply(json!({"host-name": "late"}));
        peer.answer_sync(id);
        peer.expect("guest-get-host-name");
        peer.reply(json!({"host-name": "two"}));
        peer.expect("guest-ping");
        peer.error("CommandNotFound", "Command guest-ping has been disabled");
    });
    let mut client = client(stream, quick_options());
    assert_eq!(
        client
            .call::<GuestGetHostName>(&Empty {})
            .await
            .unwrap()
            .host_name,
        "one"
    );
    let e = client
        .call::<GuestGetHostName>(&Empty {})
        .await
        .unwrap_err();
    assert!(matches!(e, Error::Timeout { .. }), "{e:?}");
    assert!(client.needs_sync());
    assert_eq!(
        client
            .call::<GuestGetHostName>(&Empty {})
            .await
            .unwrap()
            .host_name,
        "two"
    );
    let e = client.call::<GuestPing>(&Empty {}).await.unwrap_err();
    assert!(matches!(e, Error::CommandDisabled { .. }), "{e:?}");
    drop(client);
    tokio::task::spawn_blocking(move || peer.join().unwrap())
        .await
        .unwrap();
}

#[tokio::test]
async fn a_dropped_call_makes_the_client_resync() {
    let (stream, peer) = scripted(|mut peer| {
        peer.sync();
        peer.expect("guest-get-host-name");
        let id = peer.read_sync();
        peer.reply(json!({"host-name": "late"}));
        peer.answer_sync(id);
        peer.expect("guest-get-host-name");
        peer.reply(json!({"host-name": "fresh"}));
    });
    let mut client = client(
        stream,
        Options {
            timeout: Duration::from_secs(30),
            ..quick_options()
        },
    );
    let call = client.call::<GuestGetHostName>(&Empty {});
    assert!(tokio::time::timeout(Duration::from_millis(100), call)
        .await
        .is_err());
    assert!(client.needs_sync());
    assert_eq!(
        client
            .call::<GuestGetHostName>(&Empty {})
            .await
            .unwrap()
            .host_name,
        "fresh"
    );
    drop(client);
    tokio::task::spawn_blocking(move || peer.join().unwrap())
        .await
        .unwrap();
}

#[tokio::test]
async fn no_success_response_and_raw_calls() {
    let (stream, peer) = scripted(|mut peer| {
        peer.sync();
        peer.expect("guest-shutdown");
        peer.sync();
        peer.expect("guest-info");
        peer.reply(json!({"version": "x", "supported_commands": [{"name": "guest-ping", "enabled": true, "success-response": true}]}));
        peer.expect("guest-get-osinfo");
        peer.reply(json!({"id": "debian"}));
    });
    let mut client = client(stream, quick_options());
    client
        .call::<GuestShutdown>(&GuestShutdownArguments::default())
        .await
        .unwrap();
    assert!(client.supports("guest-ping").await.unwrap());
    assert_eq!(
        client.call_raw("guest-get-osinfo", None).await.unwrap(),
        json!({"id": "debian"})
    );
    drop(client);
    tokio::task::spawn_blocking(move || peer.join().unwrap())
        .await
        .unwrap();
}

#[tokio::test]
async fn end_of_file_is_disconnected() {
    let (stream, peer) = scripted(|mut peer| {
        peer.sync();
    });
    let mut client = client(stream, quick_options());
    client.sync().await.unwrap();
    tokio::task::spawn_blocking(move || peer.join().unwrap())
        .await
        .unwrap();
    assert!(matches!(
        client.call::<GuestPing>(&Empty {}).await,
        Err(Error::Disconnected)
    ));
}

#[tokio::test]
async fn connects_by_address() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("qga.sock");
    let listener = std::os::unix::net::UnixListener::bind(&path).unwrap();
    let peer = std::thread::spawn(move || {
        let (stream, _) = listener.accept().unwrap();
        let mut peer = common::Peer::new(stream);
        peer.sync();
    });
    let client = AsyncClient::connect(&qga_client::Address::Unix(path), quick_options())
        .await
        .unwrap();
    assert!(!client.needs_sync());
    drop(client);
    tokio::task::spawn_blocking(move || peer.join().unwrap())
        .await
        .unwrap();
}
