# os-ken peer for bench/peers (make bench-peers): link discovery through
# os_ken.topology (run osken-manager with --observe-links) plus a tiny
# HTTP endpoint so the harness can poll os-ken the way it polls Satellite:
#
#   GET /links         every link os-ken's switches app knows, as JSON
#   GET /flows/<dpid>  a flow-stats request to that switch, the reply as JSON
#
# Debian's python3-os-ken 2.5 ships neither ofctl_rest nor rest_topology,
# so this stands in for them. The HTTP server listens on the unix socket
# named by $SPB_HTTP_SOCK (os-ken runs inside the lab's network namespace,
# the harness outside it). Written against os-ken's public API; no code is
# copied from os-ken or Ryu.

import http.server
import json
import os
import socketserver

from os_ken.base import app_manager
from os_ken.controller import ofp_event
from os_ken.controller.handler import MAIN_DISPATCHER, set_ev_cls
from os_ken.lib import hub
from os_ken.topology.api import get_link


class _UnixHTTPServer(socketserver.UnixStreamServer):
    daemon_threads = True


class PeerApp(app_manager.OSKenApp):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.datapaths = {}
        self.pending = {}  # xid -> (event, list of stats)
        sock = os.environ.get("SPB_HTTP_SOCK", "/tmp/spb-osken.sock")
        if os.path.exists(sock):
            os.unlink(sock)
        app = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.0"

            def log_message(self, fmt, *args):
                pass

            def address_string(self):
                return "unix"

            def do_GET(self):
                try:
                    code, body = app.route(self.path)
                except Exception as e:  # the harness reads the message
                    code, body = 500, {"error": repr(e)}
                data = json.dumps(body).encode()
                self.send_response(code)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self.server = _UnixHTTPServer(sock, Handler)
        hub.spawn(self.server.serve_forever)

    @set_ev_cls(ofp_event.EventOFPStateChange, [MAIN_DISPATCHER])
    def _state(self, ev):
        dp = ev.datapath
        if dp.id is not None:
            self.datapaths[dp.id] = dp

    def route(self, path):
        if path == "/links":
            out = []
            for link in get_link(self):
                out.append({
                    "src": {"dpid": "%016x" % link.src.dpid, "port": link.src.port_no},
                    "dst": {"dpid": "%016x" % link.dst.dpid, "port": link.dst.port_no},
                })
            return 200, out
        if path.startswith("/flows/"):
            try:
                dpid = int(path[len("/flows/"):], 16)
            except ValueError:
                return 400, {"error": "dpid: want hex digits"}
            dp = self.datapaths.get(dpid)
            if dp is None or not dp.is_active:
                return 404, {"error": "switch %016x is not connected" % dpid}
            return 200, self.flow_stats(dp)
        return 404, {"error": "want /links or /flows/<dpid>"}

    def flow_stats(self, dp):
        parser = dp.ofproto_parser
        req = parser.OFPFlowStatsRequest(dp)
        dp.set_xid(req)
        done = hub.Event()
        parts = []
        self.pending[req.xid] = (done, parts)
        try:
            dp.send_msg(req)
            if not done.wait(timeout=120):
                raise TimeoutError("no complete flow-stats reply in 120 s")
        finally:
            self.pending.pop(req.xid, None)
        flows = []
        for st in parts:
            flows.append({
                "table_id": st.table_id,
                "priority": st.priority,
                "cookie": st.cookie,
                "duration_sec": st.duration_sec,
                "packet_count": st.packet_count,
                "byte_count": st.byte_count,
                "match": {k: str(v) for k, v in st.match.items()},
                "instructions": [str(i) for i in st.instructions],
            })
        return flows

    @set_ev_cls(ofp_event.EventOFPFlowStatsReply, MAIN_DISPATCHER)
    def _flow_stats_reply(self, ev):
        msg = ev.msg
        p = self.pending.get(msg.xid)
        if p is None:
            return
        p[1].extend(msg.body)
        if not msg.flags & msg.datapath.ofproto.OFPMPF_REPLY_MORE:
            p[0].set()
