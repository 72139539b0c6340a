package codec

import "errors"

// Kind says which command a line holds.
type Kind uint8

// The commands a node understands.
const (
	KindInvalid Kind = iota
	KindIAMAT        // IAMAT client location time
	KindWHATSAT      // WHATSAT client radius-km bound
	KindAT           // AT origin skew client location time (peer update)
	KindPeer         // PEER node-name: the handshake that opens a peer link
)

func (k Kind) String() string {
	switch k {
	case KindIAMAT:
		return "IAMAT"
	case KindWHATSAT:
		return "WHATSAT"
	case KindAT:
		return "AT"
	case KindPeer:
		return "PEER"
	}
	return "invalid"
}

// Parse errors. Each names what was wrong; all of them mean "answer ? line".
var (
	ErrEmpty    = errors.New("codec: blank line")
	ErrCommand  = errors.New("codec: unknown command")
	ErrArity    = errors.New("codec: wrong number of fields")
	ErrLocation = errors.New("codec: bad location")
	ErrTime     = errors.New("codec: bad time")
	ErrRadius   = errors.New("codec: bad radius")
	ErrBound    = errors.New("codec: bad bound")
	ErrSkew     = errors.New("codec: bad skew")
)

// Limits of WHATSAT (docs/PROTOCOL.md, WHATSAT).
const (
	MaxRadiusKm = 50
	MaxBound    = 20
)

// maxFields is the most fields any command has (AT); one more slot detects
// excess fields without scanning further.
const maxFields = 6

// Command is one parsed line. Its byte slices point into the parsed line and
// are valid only while that line's buffer is; Parse overwrites every field
// that the new Kind uses and leaves the others stale.
type Command struct {
	Kind Kind

	ClientID []byte // IAMAT, WHATSAT, AT
	Location []byte // IAMAT, AT: "+34.068930-118.445127" verbatim
	Time     []byte // IAMAT, AT: the client's time verbatim
	Stamp    Stamp  // Time, parsed

	Origin []byte // AT: the node that received the IAMAT; PEER: the dialing node
	Nonce  []byte // PEER: the dialer's challenge (hex), nil in the no-secret form
	Skew   []byte // AT: verbatim

	RadiusKm float64 // WHATSAT
	Bound    int     // WHATSAT
}

// Parse parses one line (as returned by NextLine) into cmd. On error cmd.Kind
// is KindInvalid and the caller answers with AppendInvalid. Parse never
// allocates.
func Parse(line []byte, cmd *Command) error {
	if parseIAMATFast(line, cmd) {
		return nil
	}
	return parseGeneral(line, cmd)
}

// parseGeneral is Parse byte by byte: every command, every spacing.
func parseGeneral(line []byte, cmd *Command) error {
	cmd.Kind = KindInvalid
	var fa [maxFields + 1][]byte
	n := splitFields(line, &fa)
	if n == 0 {
		return ErrEmpty
	}
	f := fa[:n]
	switch string(f[0]) {
	case "IAMAT":
		if n != 4 {
			return ErrArity
		}
		if err := cmd.setLocTime(f[2], f[3]); err != nil {
			return err
		}
		cmd.ClientID = f[1]
		cmd.Kind = KindIAMAT
	case "WHATSAT":
		if n != 4 {
			return ErrArity
		}
		r, ok := parseRadius(f[2])
		if !ok {
			return ErrRadius
		}
		b, ok := parseBound(f[3])
		if !ok {
			return ErrBound
		}
		cmd.ClientID, cmd.RadiusKm, cmd.Bound = f[1], r, b
		cmd.Kind = KindWHATSAT
	case "AT":
		if n != 6 {
			return ErrArity
		}
		if !validSkew(f[2]) {
			return ErrSkew
		}
		if err := cmd.setLocTime(f[4], f[5]); err != nil {
			return err
		}
		cmd.Origin, cmd.Skew, cmd.ClientID = f[1], f[2], f[3]
		cmd.Kind = KindAT
	case "PEER":
		// "PEER name", or "PEER name nonce" when the herd has a secret.
		if n != 2 && !(n == 3 && validNonce(f[2])) {
			return ErrArity
		}
		cmd.Origin, cmd.Nonce = f[1], nil
		if n == 3 {
			cmd.Nonce = f[2]
		}
		cmd.Kind = KindPeer
	default:
		return ErrCommand
	}
	return nil
}

// NonceLen is the length of a handshake nonce: 16 random bytes in hex.
const NonceLen = 32

// validNonce reports whether b is NonceLen lower-case hex digits.
func validNonce(b []byte) bool {
	if len(b) != NonceLen {
		return false
	}
	for _, c := range b {
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}

func (cmd *Command) setLocTime(loc, t []byte) error {
	if _, _, ok := parseLocation(loc, false); !ok {
		return ErrLocation
	}
	st, ok := ParseStamp(t)
	if !ok {
		return ErrTime
	}
	cmd.Location = loc
	cmd.Time, cmd.Stamp = t, st
	return nil
}

// LatLon returns the coordinates of a parsed IAMAT or AT in decimal
// degrees (good to about 15 significant digits). Parse only validates them;
// converting is left to the rare caller that needs numbers (WHATSAT).
func (cmd *Command) LatLon() (lat, lon float64) {
	lat, lon, _ = parseLocation(cmd.Location, true)
	return lat, lon
}

// splitFields splits line on runs of white space into f and returns how many
// fields it found, stopping at len(f): a result of len(f) means "too many"
// for every command.
func splitFields(line []byte, f *[maxFields + 1][]byte) int {
	n := 0
	i := 0
	for n < len(f) {
		for i < len(line) && IsSpace(line[i]) {
			i++
		}
		if i == len(line) {
			break
		}
		start := i
		for i < len(line) && !IsSpace(line[i]) {
			i++
		}
		f[n] = line[start:i:i] // no spare capacity: appending to a field cannot clobber the line
		n++
	}
	return n
}
