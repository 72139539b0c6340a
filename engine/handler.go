package engine

import (
	"time"

	"github.com/panjf2000/gnet/v2"
)

// handler is what gnet calls: the server's callbacks, kept out of Server's
// API. Every one runs on an event loop (onBoot once, before any
// connection; onTick on one loop).
type handler struct {
	gnet.BuiltinEventEngine
	s *Server
}

func (h *handler) OnBoot(eng gnet.Engine) gnet.Action           { return h.s.onBoot(eng) }
func (h *handler) OnOpen(c gnet.Conn) ([]byte, gnet.Action)     { return h.s.onOpen(c) }
func (h *handler) OnTraffic(c gnet.Conn) gnet.Action            { return h.s.onTraffic(c) }
func (h *handler) OnClose(c gnet.Conn, err error) gnet.Action   { return h.s.onClose(c, err) }
func (h *handler) OnTick() (delay time.Duration, a gnet.Action) { return h.s.onTick() }
