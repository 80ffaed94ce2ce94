package lab

import (
	"context"
	"encoding/hex"
	"fmt"
	"net"
	"os"
	"syscall"
)

// Tests send hand-made frames (forged LLDP, VLAN-tagged packets) from
// inside an endpoint's namespace by running their own test binary there:
// SendFrame starts it with these variables set, and ServeRawFrame, called
// first in the test package's TestMain, sends the frame and exits.
const (
	envRawFrame = "SATLAB_RAW_FRAME"
	envRawIf    = "SATLAB_RAW_IF"
)

// ServeRawFrame sends the frame and exits when this process was started
// by SendFrame; otherwise it returns at once. Call it first in TestMain.
func ServeRawFrame() {
	f := os.Getenv(envRawFrame)
	if f == "" {
		return
	}
	if err := sendRaw(os.Getenv(envRawIf), f); err != nil {
		fmt.Fprintln(os.Stderr, "raw frame:", err)
		os.Exit(1)
	}
	os.Exit(0)
}

func sendRaw(ifname, frameHex string) error {
	frame, err := hex.DecodeString(frameHex)
	if err != nil {
		return err
	}
	ifi, err := net.InterfaceByName(ifname)
	if err != nil {
		return err
	}
	fd, err := syscall.Socket(syscall.AF_PACKET, syscall.SOCK_RAW, 0)
	if err != nil {
		return err
	}
	defer syscall.Close(fd)
	return syscall.Sendto(fd, frame, 0, &syscall.SockaddrLinklayer{Ifindex: ifi.Index, Halen: 6})
}

// SendFrame sends one raw Ethernet frame out of ifname inside one of the
// lab's namespaces (see NetnsName). The calling test binary must call
// ServeRawFrame in its TestMain.
func (l *Lab) SendFrame(ctx context.Context, netns, ifname string, frame []byte) error {
	cmd, err := l.ExecCommand(ctx, netns, os.Args[0])
	if err != nil {
		return err
	}
	cmd.Env = append(os.Environ(), envRawFrame+"="+hex.EncodeToString(frame), envRawIf+"="+ifname)
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("lab: sending a raw frame in %s: %v: %s", netns, err, out)
	}
	return nil
}
