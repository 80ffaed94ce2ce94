package web

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/satellite-sdn/satellite/web/internal/httpapi"

	"github.com/satellite-sdn/satellite/controller"
	"github.com/satellite-sdn/satellite/controller/ofwire"
)

func TestParseDPID(t *testing.T) {
	for in, want := range map[string]uint64{
		"1": 1, "0x1": 1, "0X1": 1, "0000000000000001": 1, "00:00:00:00:00:00:00:01": 1, "01": 1,
		"ffffffffffffffff": ^uint64(0), "FF:FF:FF:FF:FF:FF:FF:FF": ^uint64(0), "10": 0x10, "0xabcdef": 0xabcdef, "ab:cd": 0xabcd,
	} {
		got, err := ParseDPID(in)
		if err != nil || got != want {
			t.Errorf("ParseDPID(%q) = %x, %v; want %x", in, got, err, want)
		}
	}
	for _, in := range []string{"", "0x", "g", "1 ", " 1", "+1", "-1", "0x0x1", "10000000000000000", "1:2", "001:02",
		"00:00:00:00:00:00:00:00:01", ":01", "01:", "0x01:02", "1_000"} {
		if _, err := ParseDPID(in); err == nil {
			t.Errorf("ParseDPID(%q) accepted", in)
		}
	}
	if s := FormatDPID(0xabc); s != "0000000000000abc" {
		t.Fatal(s)
	}
}

func TestSwitchErrorStatus(t *testing.T) {
	s := New(nil)
	swErr := &ofwire.Error{Type: 5, Code: 2}
	for _, tc := range []struct {
		err    error
		status int
		msg    string
	}{
		// what AddFlows returns when the switch rejects a flow-mod
		{fmt.Errorf("dpid %016x: %w", 1, errors.Join(fmt.Errorf("OFPT_FLOW_MOD #0: %w", swErr))), http.StatusUnprocessableEntity, "switch error"},
		{fmt.Errorf("dpid 1: no reply: %w", context.DeadlineExceeded), http.StatusGatewayTimeout, "did not answer within 5s"},
		{fmt.Errorf("%w: keepalive timeout", controller.ErrSessionClosed), http.StatusServiceUnavailable, "switch 0000000000000001 disconnected: switch session closed: keepalive timeout"},
		{fmt.Errorf("x: %w", controller.ErrTooLarge), http.StatusBadGateway, "exceeds the configured size limit"},
		{errors.New("flow stats entry 3: truncated"), http.StatusBadGateway, "switch 0000000000000001: flow stats entry 3"},
		{httpapi.Errorf(http.StatusConflict, "id", "in use"), http.StatusConflict, "in use"},
	} {
		var ae *httpapi.Error
		if !errors.As(s.switchError(1, tc.err), &ae) || ae.Status != tc.status || !strings.Contains(ae.Msg, tc.msg) {
			t.Errorf("%v: got %+v, want %d %q", tc.err, ae, tc.status, tc.msg)
		}
	}
}
