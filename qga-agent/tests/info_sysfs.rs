//! Processors and memory blocks against fixture sysfs trees in a temp dir
//! (guest-set-vcpus and guest-set-memory-blocks never touch the real sysfs),
//! plus read-only checks of the real system.

// Each test crate uses some of the fixtures.
#[allow(dead_code)]
mod fixtures;

use std::fs;
use std::path::Path;

use qga_agent::commands::{cpu, memory};
use qga_types::{GuestLogicalProcessor, GuestMemoryBlock, GuestMemoryBlockResponseType};
use serde_json::json;

fn vcpu(id: i64, online: bool) -> GuestLogicalProcessor {
    GuestLogicalProcessor {
        logical_id: id,
        online,
        can_offline: None,
    }
}

fn sorted_vcpus(dir: &Path) -> serde_json::Value {
    let mut vcpus = cpu::get_vcpus_in(dir).unwrap();
    vcpus.sort_by_key(|v| v.logical_id);
    serde_json::to_value(vcpus).unwrap()
}

#[test]
fn get_vcpus_from_fixture() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("cpu");
    fixtures::cpu_tree(&dir);
    assert_eq!(
        sorted_vcpus(&dir),
        json!([
            {"logical-id": 0, "online": true, "can-offline": false},
            {"logical-id": 1, "online": true, "can-offline": true},
            {"logical-id": 2, "online": false, "can-offline": true},
            {"logical-id": 10, "online": true, "can-offline": true},
        ])
    );
}

#[test]
fn get_vcpus_errors() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("cpu");
    let d = dir.display();
    assert_eq!(
        cpu::get_vcpus_in(&dir).unwrap_err().0,
        format!("failed to list entries: {d}: No such file or directory")
    );

    fixtures::cpu_tree(&dir);
    fs::create_dir(dir.join("cpu3")).unwrap();
    fs::write(dir.join("cpu3/online"), "").unwrap();
    assert_eq!(
        cpu::get_vcpus_in(&dir).unwrap_err().0,
        format!("pread(\"{d}/cpu3//online\"): unexpected EOF")
    );

    fs::remove_file(dir.join("cpu3/online")).unwrap();
    fs::create_dir(dir.join("cpu3/online")).unwrap();
    assert_eq!(
        cpu::get_vcpus_in(&dir).unwrap_err().0,
        format!("pread(\"{d}/cpu3//online\"): Is a directory")
    );

    // A `cpuN` entry that is not a directory.
    fs::remove_dir_all(dir.join("cpu3")).unwrap();
    fs::write(dir.join("cpu3"), "").unwrap();
    assert_eq!(
        cpu::get_vcpus_in(&dir).unwrap_err().0,
        format!("open(\"{d}/cpu3/\"): Not a directory")
    );
}

#[test]
fn set_vcpus_on_fixture() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("cpu");
    fixtures::cpu_tree(&dir);
    let online = |n: &str| fs::read_to_string(dir.join(n).join("online")).unwrap();

    assert_eq!(cpu::set_vcpus_in(&dir, &[]).unwrap(), 0);

    // Bring cpu2 online, take cpu1 offline; cpu0 "online" is a no-op success.
    let n = cpu::set_vcpus_in(&dir, &[vcpu(2, true), vcpu(1, false), vcpu(0, true)]).unwrap();
    assert_eq!(n, 3);
    assert_eq!(online("cpu2"), "1\n");
    assert_eq!(online("cpu1"), "0\n");

    // Already in the requested state: nothing is written.
    fs::write(dir.join("cpu10/online"), "1x").unwrap();
    assert_eq!(cpu::set_vcpus_in(&dir, &[vcpu(10, true)]).unwrap(), 1);
    assert_eq!(online("cpu10"), "1x");

    // can-offline in the input is ignored.
    let mut with_flag = vcpu(1, true);
    with_flag.can_offline = Some(false);
    assert_eq!(cpu::set_vcpus_in(&dir, &[with_flag]).unwrap(), 1);
    assert_eq!(online("cpu1"), "1\n");
}

#[test]
fn set_vcpus_partial_failure() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("cpu");
    fixtures::cpu_tree(&dir);
    let d = dir.display();
    let online = |n: &str| fs::read_to_string(dir.join(n).join("online")).unwrap();

    // The first entry fails: the error, nothing changed.
    assert_eq!(
        cpu::set_vcpus_in(&dir, &[vcpu(99, true), vcpu(2, true)])
            .unwrap_err()
            .0,
        format!("open(\"{d}/cpu99/\"): No such file or directory")
    );
    assert_eq!(online("cpu2"), "0\n");

    assert_eq!(
        cpu::set_vcpus_in(&dir, &[vcpu(0, false)]).unwrap_err().0,
        "logical processor #0 can't be offlined"
    );

    // A later entry fails: the count of those applied, which took effect; the
    // entries after the failure are not applied.
    let n = cpu::set_vcpus_in(
        &dir,
        &[
            vcpu(2, true),
            vcpu(1, false),
            vcpu(0, false),
            vcpu(10, false),
        ],
    )
    .unwrap();
    assert_eq!(n, 2);
    assert_eq!(online("cpu2"), "1\n");
    assert_eq!(online("cpu1"), "0\n");
    assert_eq!(online("cpu10"), "1\n");

    // Errors of the online file itself.
    fs::write(dir.join("cpu2/online"), "").unwrap();
    assert_eq!(
        cpu::set_vcpus_in(&dir, &[vcpu(2, false)]).unwrap_err().0,
        format!("pread(\"{d}/cpu2//online\"): unexpected EOF")
    );
    fs::remove_file(dir.join("cpu2/online")).unwrap();
    fs::create_dir(dir.join("cpu2/online")).unwrap();
    assert_eq!(
        cpu::set_vcpus_in(&dir, &[vcpu(2, false)]).unwrap_err().0,
        format!("open(\"{d}/cpu2//online\"): Is a directory")
    );
}

fn sorted_blocks(dir: &Path) -> serde_json::Value {
    let mut blocks = memory::get_memory_blocks_in(dir).unwrap();
    blocks.sort_by_key(|b| b.phys_index);
    serde_json::to_value(blocks).unwrap()
}

fn block(index: u64, online: bool) -> GuestMemoryBlock {
    GuestMemoryBlock {
        phys_index: index,
        online,
        can_offline: None,
    }
}

#[test]
fn get_memory_blocks_from_fixture() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("memory");
    fixtures::memory_tree(&dir);
    assert_eq!(
        sorted_blocks(&dir),
        json!([
            {"phys-index": 0, "online": true, "can-offline": true},
            {"phys-index": 1, "online": false, "can-offline": false},
            {"phys-index": 2, "online": true, "can-offline": false},
            {"phys-index": 3, "online": true, "can-offline": false},
            {"phys-index": 32, "online": true, "can-offline": true},
        ])
    );
    assert_eq!(
        serde_json::to_value(memory::get_memory_block_info_in(&dir).unwrap()).unwrap(),
        json!({"size": 134217728})
    );
}

#[test]
fn get_memory_blocks_errors() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("memory");
    let d = dir.display();

    // No memory directory: no blocks, no error; but no block size either.
    assert_eq!(memory::get_memory_blocks_in(&dir).unwrap(), vec![]);
    assert_eq!(
        memory::get_memory_block_info_in(&dir).unwrap_err().0,
        format!("open(\"{d}/\"): No such file or directory")
    );

    fs::create_dir(&dir).unwrap();
    assert_eq!(
        memory::get_memory_blocks_in(&dir).unwrap_err().0,
        "guest reported zero memory blocks!"
    );
    assert_eq!(
        memory::get_memory_block_info_in(&dir).unwrap_err().0,
        "open sysfs file \"block_size_bytes\": No such file or directory"
    );
    fs::write(dir.join("block_size_bytes"), "").unwrap();
    assert_eq!(
        memory::get_memory_block_info_in(&dir).unwrap_err().0,
        "pread sysfs file \"block_size_bytes\": unexpected EOF"
    );
    fs::write(dir.join("block_size_bytes"), "0x40000000\n").unwrap();
    assert_eq!(
        memory::get_memory_block_info_in(&dir).unwrap().size,
        1 << 30
    );

    fixtures::memory_tree(&dir);
    fs::create_dir(dir.join("memory7")).unwrap();
    fs::create_dir(dir.join("memory7/state")).unwrap();
    assert_eq!(
        memory::get_memory_blocks_in(&dir).unwrap_err().0,
        "pread sysfs file \"state\": Is a directory"
    );
    fs::remove_dir(dir.join("memory7/state")).unwrap();
    fs::write(dir.join("memory7/state"), "online\n").unwrap();
    fs::write(dir.join("memory7/removable"), "").unwrap();
    assert_eq!(
        memory::get_memory_blocks_in(&dir).unwrap_err().0,
        "pread sysfs file \"removable\": unexpected EOF"
    );
}

#[test]
fn set_memory_blocks_on_fixture() {
    use GuestMemoryBlockResponseType::*;
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("memory");
    fixtures::memory_tree(&dir);
    fs::create_dir(dir.join("memory4")).unwrap();
    fs::write(dir.join("memory4/state"), "").unwrap();
    let state = |n: &str| fs::read_to_string(dir.join(n).join("state")).unwrap();

    assert_eq!(memory::set_memory_blocks_in(&dir, &[]).unwrap(), vec![]);

    let responses = memory::set_memory_blocks_in(
        &dir,
        &[
            block(0, false), // online -> offline
            block(1, true),  // offline -> online
            block(2, true),  // already online
            block(99, true), // no such block
            block(3, false), // no state file: cannot go offline
            block(3, true),  // no state file: always online (with ENOENT)
            block(4, true),  // empty state file
            block(0, true),  // the same block again, back online
        ],
    )
    .unwrap();
    let got: Vec<_> = responses
        .iter()
        .map(|r| (r.phys_index, r.response, r.error_code))
        .collect();
    assert_eq!(
        got,
        vec![
            (0, Success, None),
            (1, Success, None),
            (2, Success, None),
            (99, NotFound, Some(2)),
            (3, OperationNotSupported, Some(2)),
            (3, Success, Some(2)),
            (4, OperationFailed, Some(0)),
            (0, Success, None),
        ]
    );
    assert!(state("memory0").starts_with("online"));
    assert!(state("memory1").starts_with("online"));
    assert_eq!(state("memory2"), "online\n");

    // The wire shape: error-code only when there is one.
    let json = serde_json::to_value(&responses).unwrap();
    assert_eq!(
        json[3],
        json!({"phys-index": 99, "response": "not-found", "error-code": 2})
    );
    assert_eq!(json[0], json!({"phys-index": 0, "response": "success"}));

    // No memory directory at all.
    let none = tmp.path().join("none");
    let responses = memory::set_memory_blocks_in(&none, &[block(0, true)]).unwrap();
    assert_eq!(
        serde_json::to_value(&responses).unwrap(),
        json!([{"phys-index": 0, "response": "operation-not-supported", "error-code": 2}])
    );
}

#[test]
fn set_memory_blocks_write_failure() {
    use GuestMemoryBlockResponseType::*;
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("memory");
    fixtures::memory_tree(&dir);
    // A state file that reads but refuses writes, even for root: /dev/full reads
    // as zeros ("not online") and every write to it fails with ENOSPC.
    let full = Path::new("/dev/full");
    if !full.exists() {
        return;
    }
    fs::remove_file(dir.join("memory1/state")).unwrap();
    std::os::unix::fs::symlink(full, dir.join("memory1/state")).unwrap();
    let responses = memory::set_memory_blocks_in(&dir, &[block(1, true)]).unwrap();
    assert_eq!(responses[0].response, OperationFailed);
    assert_eq!(responses[0].error_code, Some(i64::from(libc::ENOSPC)));
}

#[test]
fn real_system_reads() {
    // Read-only: the real processors and memory blocks.
    let vcpus = cpu::get_vcpus().unwrap();
    assert!(!vcpus.is_empty());
    assert!(vcpus.iter().all(|v| v.can_offline.is_some()));
    let mut ids: Vec<_> = vcpus.iter().map(|v| v.logical_id).collect();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), vcpus.len());
    if Path::new(memory::SYSFS_MEMORY_DIR).exists() {
        let blocks = memory::get_memory_blocks().unwrap();
        assert!(blocks.iter().all(|b| b.can_offline.is_some()));
        assert!(memory::get_memory_block_info().unwrap().size > 0);
    }
    // An empty list changes nothing and is allowed on any machine.
    assert_eq!(cpu::set_vcpus(&[]).unwrap(), 0);
    assert_eq!(memory::set_memory_blocks(&[]).unwrap(), vec![]);
}
