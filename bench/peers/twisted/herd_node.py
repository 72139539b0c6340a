#!/usr/bin/env python3
"""A herd node in Python 3 / Twisted, the way the study's prototype built it.

It answers IAMAT with an AT line, keeps a dict cache of the newest AT line
per client, and floods newer updates to its neighbours over long-lived
client connections (reconnecting with backoff). It is a benchmark peer, not a
full implementation: WHATSAT gets "? line" (no Places backend).

    /usr/bin/python3 herd_node.py NAME --port P [--neighbor host:port ...]
"""

import argparse
import re
import sys
import time

from twisted.internet import protocol, reactor
from twisted.internet.interfaces import IHalfCloseableProtocol
from twisted.protocols.basic import LineReceiver
from zope.interface import implementer

MAX_LINE = 4096
LOCATION = re.compile(rb"^([+-][0-9]+\.[0-9]+)([+-][0-9]+\.[0-9]+)$")
STAMP = re.compile(rb"^[0-9]+(\.[0-9]+)?$")
SKEW = re.compile(rb"^[+-][0-9]+\.[0-9]+$")


def valid_location(loc):
    m = LOCATION.match(loc)
    return bool(m) and abs(float(m.group(1))) <= 90 and abs(float(m.group(2))) <= 180


class HerdNode:
    """The node's state: its name, its cache and its neighbour links."""

    def __init__(self, name, log=None):
        self.name = name.encode()
        self.cache = {}  # client id -> (time, AT line)
        self.links = []  # NeighborFactory, one per neighbour
        self.log = log

    def logline(self, what, line):
        if self.log:
            self.log.write("%.6f %s %r\n" % (time.time(), what, line))

    def offer(self, client, stamp, line):
        """Stores line if it is newer than what is held; returns (held, stored)."""
        key = (float(stamp), line)
        cur = self.cache.get(client)
        if cur is not None and key <= cur:
            return cur[1], False
        self.cache[client] = key
        return line, True

    def flood(self, line):
        for link in self.links:
            link.send(line)

    def serve(self, line, peer):
        """Answers one line; returns the reply (None for a peer's AT)."""
        f = line.split()
        if len(f) == 4 and f[0] == b"IAMAT" and valid_location(f[2]) and STAMP.match(f[3]):
            skew = time.time() - float(f[3])
            at = b"AT %s %+.9f %s %s %s" % (self.name, skew, f[1], f[2], f[3])
            held, stored = self.offer(f[1], f[3], at)
            if stored:
                self.flood(held)
            return held + b"\n"
        if len(f) == 6 and f[0] == b"AT" and SKEW.match(f[2]) and valid_location(f[4]) and STAMP.match(f[5]):
            at = b" ".join(f)
            held, stored = self.offer(f[3], f[5], at)
            if stored:
                self.flood(held)  # the sender sees it is not newer and stops
            return None if peer else held + b"\n"
        if len(f) == 2 and f[0] == b"PEER":
            return b"PEER " + self.name + b"\n"
        return b"? " + line + b"\n"


@implementer(IHalfCloseableProtocol)
class HerdProtocol(LineReceiver):
    """One client (or neighbour) connection on the node's port."""

    delimiter = b"\n"
    MAX_LENGTH = MAX_LINE + 1  # the line may still end in the "\r" of "\r\n"

    def __init__(self, node):
        self.node = node
        self.peer = False

    def lineReceived(self, line):
        if line.endswith(b"\r"):
            line = line[:-1]
        if len(line) > MAX_LINE:
            self.lineLengthExceeded(line)
            return
        self.node.logline("recv", line)
        if line.startswith(b"PEER "):
            self.peer = True
        reply = self.node.serve(line, self.peer)
        if reply:
            self.node.logline("send", reply)
            self.transport.write(reply)

    def lineLengthExceeded(self, line):
        self.transport.write(b"? " + line[:MAX_LINE] + b"\n")
        self.transport.loseConnection()

    def readConnectionLost(self):
        # Half-close: bytes left without a newline count as a last line.
        # (LineReceiver keeps them in its _buffer.)
        rest, self._buffer = self._buffer, b""
        if rest:
            self.lineReceived(rest)
        self.transport.loseConnection()

    def writeConnectionLost(self):
        self.transport.loseConnection()


class HerdFactory(protocol.ServerFactory):
    def __init__(self, node):
        self.node = node

    def buildProtocol(self, addr):
        return HerdProtocol(self.node)


class NeighborLink(LineReceiver):
    """Our long-lived connection to one neighbour: say who we are, push the
    whole cache (so a neighbour that restarted converges), then stream."""

    delimiter = b"\n"

    def connectionMade(self):
        self.factory.resetDelay()
        self.factory.conn = self
        lines = [b"PEER " + self.factory.node.name]
        lines += [line for _, line in self.factory.node.cache.values()]
        self.transport.write(b"\n".join(lines) + b"\n")

    def connectionLost(self, reason):
        if self.factory.conn is self:
            self.factory.conn = None

    def lineReceived(self, line):
        pass  # the neighbour only answers the PEER handshake


class NeighborFactory(protocol.ReconnectingClientFactory):
    protocol = NeighborLink
    maxDelay = 2
    initialDelay = 0.05

    def __init__(self, node, addr):
        self.node = node
        self.addr = addr
        self.conn = None

    def send(self, line):
        # While the link is down updates are dropped: the push on reconnect
        # carries the whole cache.
        if self.conn is not None:
            self.conn.transport.write(line + b"\n")


def main(argv):
    ap = argparse.ArgumentParser(description="herd node (Twisted)")
    ap.add_argument("name")
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--neighbor", action="append", default=[], metavar="HOST:PORT")
    ap.add_argument("--log", metavar="FILE", help="log every line received and sent")
    args = ap.parse_args(argv)

    log = open(args.log, "a", buffering=1) if args.log else None
    node = HerdNode(args.name, log)
    reactor.listenTCP(args.port, HerdFactory(node), interface=args.host, backlog=4096)
    for nb in args.neighbor:
        host, _, port = nb.rpartition(":")
        f = NeighborFactory(node, nb)
        node.links.append(f)
        reactor.connectTCP(host or "127.0.0.1", int(port), f)
    print("%s listening on %s:%d" % (args.name, args.host, args.port), flush=True)
    reactor.run()


if __name__ == "__main__":
    main(sys.argv[1:])
