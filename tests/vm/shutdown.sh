#!/bin/sh
# /sbin/shutdown of the VM-suite guest: qemu-ga runs `shutdown -h -P +0 MSG` (powerdown),
# `-h -H` (halt) or `-r` (reboot). There is no init system to ask: act at once.
# Halt powers off too, so that QEMU exits rather than idling.
sync
for arg in "$@"; do
    case "$arg" in
    -r | --reboot) exec reboot -f ;;
    esac
done
exec poweroff -f
