#!/bin/sh
# /init of the VM-suite guest (xtask/src/vm). @AGENT@ and @MODULES@ are filled in
# when the initramfs is built. PID 1 never exits: the agent runs in a restart loop.
export PATH=/sbin:/bin:/usr/sbin:/usr/bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
exec </dev/console >/dev/console 2>&1
mount -t tmpfs -o mode=0755 tmpfs /run
mount -t tmpfs -o mode=1777 tmpfs /tmp
hostname -F /etc/hostname

for m in @MODULES@; do
    insmod /lib/modules/$m.ko || echo "qga-vm: insmod $m failed"
done

# The agent's port: the one whose name is org.qemu.guest_agent.0 (its vportNpM name
# depends on the other virtio devices). There is no udev to make the by-name link.
port=
i=0
while [ -z "$port" ] && [ $i -lt 200 ]; do
    for f in /sys/class/virtio-ports/*/name; do
        [ -r "$f" ] && [ "$(cat "$f")" = org.qemu.guest_agent.0 ] && port=${f%/name} && port=${port##*/}
    done
    [ -n "$port" ] || { usleep 50000; i=$((i + 1)); }
done
if [ -z "$port" ]; then
    echo "qga-vm: no virtio port named org.qemu.guest_agent.0"
else
    while [ ! -e /dev/$port ] && [ $i -lt 200 ]; do usleep 50000; i=$((i + 1)); done
    mkdir -p /dev/virtio-ports
    ln -sf ../$port /dev/virtio-ports/org.qemu.guest_agent.0
fi

# The swap disk: resume from the hibernation image on it, if there is one (the
# kernel then restores the hibernated system and this boot goes no further); else
# use it as swap, for guest-suspend-disk. Before anything is mounted: the
# hibernated system has the scratch disk mounted.
i=0
while [ -d /sys/block/vdb ] && [ ! -b /dev/vdb ] && [ $i -lt 100 ]; do usleep 50000; i=$((i + 1)); done
if [ -b /dev/vdb ]; then
    cat /sys/block/vdb/dev >/sys/power/resume 2>/dev/null
    swapon /dev/vdb || echo "qga-vm: swapon /dev/vdb failed"
fi

# The scratch disk, when there is one.
i=0
while [ -d /sys/block/vda ] && [ ! -b /dev/vda ] && [ $i -lt 100 ]; do usleep 50000; i=$((i + 1)); done
if [ -b /dev/vda ]; then
    mount -t ext4 /dev/vda /mnt/scratch || echo "qga-vm: cannot mount /dev/vda"
fi

# The NIC, when there is one (the libvirt run gives the guest a udp NIC on the host's
# loopback, so that guest-network-get-interfaces and domifaddr have an address to show):
# a documentation address, nothing routes to it.
if [ -d /sys/class/net/eth0 ]; then
    ip link set lo up
    ip link set eth0 up && ip addr add 192.0.2.15/24 dev eth0 || echo "qga-vm: cannot configure eth0"
fi

echo "qga-vm: $(cut -d' ' -f1 /proc/uptime)s: starting @AGENT@ on ${port:-nothing}"
while :; do
    @AGENT@ -m virtio-serial -p /dev/virtio-ports/org.qemu.guest_agent.0 -t /run
    echo "qga-vm: agent exited ($?); restarting"
    sleep 1
done
