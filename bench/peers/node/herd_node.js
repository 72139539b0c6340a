#!/usr/bin/env node
// A herd node in plain Node.js (the `net` module, no npm dependencies), with
// the same behaviour as ../twisted/herd_node.py: IAMAT answered with an AT
// line, a Map cache of the newest AT line per client, updates flooded to the
// neighbours over long-lived reconnecting client connections, "? line" for
// anything else (WHATSAT included: there is no Places backend).
//
//   node herd_node.js NAME --port P [--host H] [--neighbor host:port ...] [--log FILE]
'use strict';

const net = require('net');
const fs = require('fs');

const MAX_LINE = 4096;
const LOCATION = /^([+-][0-9]+\.[0-9]+)([+-][0-9]+\.[0-9]+)$/;
const STAMP = /^[0-9]+(\.[0-9]+)?$/;
const SKEW = /^[+-][0-9]+\.[0-9]+$/;
const SPACE = /[ \t\n\v\f\r]+/;

function usage() {
  console.error('usage: node herd_node.js NAME --port P [--host H] [--neighbor host:port ...] [--log FILE]');
  process.exit(2);
}

function parseArgs(argv) {
  const a = { name: null, port: null, host: '127.0.0.1', neighbors: [], log: null };
  for (let i = 0; i < argv.length; i++) {
    const v = argv[i];
    if (v === '--port') a.port = parseInt(argv[++i], 10);
    else if (v === '--host') a.host = argv[++i];
    else if (v === '--neighbor') a.neighbors.push(argv[++i]);
    else if (v === '--log') a.log = argv[++i];
    else if (v.startsWith('--')) usage();
    else if (a.name === null) a.name = v;
    else usage();
  }
  if (!a.name || !(a.port >= 0)) usage();
  return a;
}

const args = parseArgs(process.argv.slice(2));
const log = args.log ? fs.createWriteStream(args.log, { flags: 'a' }) : null;
const cache = new Map(); // client id -> { t: Number, line: string }
const links = [];

function logLine(what, line) {
  if (log) log.write(`${(Date.now() / 1000).toFixed(6)} ${what} ${JSON.stringify(line)}\n`);
}

function validLocation(loc) {
  const m = LOCATION.exec(loc);
  return m !== null && Math.abs(parseFloat(m[1])) <= 90 && Math.abs(parseFloat(m[2])) <= 180;
}

// offer stores line if it is newer than what is held; returns [held, stored].
function offer(client, stamp, line) {
  const t = parseFloat(stamp);
  const cur = cache.get(client);
  if (cur && (t < cur.t || (t === cur.t && line <= cur.line))) return [cur.line, false];
  cache.set(client, { t, line });
  return [line, true];
}

function flood(line) {
  for (const l of links) l.send(line);
}

// serve answers one line; it returns the reply, or null for a peer's AT.
function serve(line, peer) {
  const f = line.split(SPACE).filter((x) => x.length > 0);
  if (f.length === 4 && f[0] === 'IAMAT' && validLocation(f[2]) && STAMP.test(f[3])) {
    const skew = Date.now() / 1000 - parseFloat(f[3]);
    const at = `AT ${args.name} ${skew >= 0 ? '+' : ''}${skew.toFixed(9)} ${f[1]} ${f[2]} ${f[3]}`;
    const [held, stored] = offer(f[1], f[3], at);
    if (stored) flood(held);
    return held + '\n';
  }
  if (f.length === 6 && f[0] === 'AT' && SKEW.test(f[2]) && validLocation(f[4]) && STAMP.test(f[5])) {
    const [held, stored] = offer(f[3], f[5], f.join(' '));
    if (stored) flood(held); // the sender sees it is not newer and stops
    return peer ? null : held + '\n';
  }
  if (f.length === 2 && f[0] === 'PEER') return `PEER ${args.name}\n`;
  return `? ${line}\n`;
}

// Client ids are opaque bytes: 'latin1' maps each byte to one char and back.
const server = net.createServer({ allowHalfOpen: true, noDelay: true }, (sock) => {
  let buf = '';
  let peer = false;
  let closed = false;
  const answer = (line) => {
    if (line.endsWith('\r')) line = line.slice(0, -1);
    logLine('recv', line);
    if (line.startsWith('PEER ')) peer = true;
    return serve(line, peer) || '';
  };
  sock.on('data', (chunk) => {
    if (closed) return;
    buf += chunk.toString('latin1');
    let out = '';
    let i;
    while ((i = buf.indexOf('\n')) >= 0) {
      const line = buf.slice(0, i);
      if (line.length > MAX_LINE + 1 || (line.length === MAX_LINE + 1 && !line.endsWith('\r'))) break;
      buf = buf.slice(i + 1);
      out += answer(line);
    }
    if (buf.length > MAX_LINE + 1 || (buf.length === MAX_LINE + 1 && !buf.endsWith('\r'))) {
      out += `? ${buf.slice(0, MAX_LINE)}\n`;
      closed = true;
    }
    if (out) {
      logLine('send', out);
      sock.write(out, 'latin1'); // one write for the whole batch
    }
    if (closed) sock.end();
  });
  sock.on('end', () => {
    // Half-close: bytes left without a newline count as a last line.
    if (!closed && buf.length > 0) {
      const out = answer(buf);
      buf = '';
      if (out) sock.write(out, 'latin1');
    }
    sock.end();
  });
  sock.on('error', () => sock.destroy());
});

// A long-lived link to one neighbour: say who we are, push the whole cache
// (so a neighbour that restarted converges), then stream updates. While it
// is down updates are dropped; the push on reconnect carries them.
function link(addr) {
  const i = addr.lastIndexOf(':');
  const host = i > 0 ? addr.slice(0, i) : '127.0.0.1';
  const port = parseInt(addr.slice(i + 1), 10);
  const l = { sock: null, send(line) { if (this.sock) this.sock.write(line + '\n', 'latin1'); } };
  let delay = 50;
  const connect = () => {
    const s = net.connect({ host, port, noDelay: true });
    s.on('connect', () => {
      delay = 50;
      l.sock = s;
      let out = `PEER ${args.name}\n`;
      for (const e of cache.values()) out += e.line + '\n';
      s.write(out, 'latin1');
    });
    s.on('data', () => {}); // the neighbour only answers the handshake
    s.on('error', () => {});
    s.on('close', () => {
      if (l.sock === s) l.sock = null;
      const wait = delay / 2 + Math.random() * (delay / 2);
      delay = Math.min(delay * 2, 2000);
      setTimeout(connect, wait);
    });
  };
  connect();
  return l;
}

server.listen({ port: args.port, host: args.host, backlog: 4096 }, () => {
  for (const nb of args.neighbors) links.push(link(nb));
  console.log(`${args.name} listening on ${args.host}:${server.address().port}`);
});
