package geonames

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"fmt"
	"io"
	"math"
	"os"
	"strconv"
	"strings"
	"sync"

	"github.com/tidwall/rtree"

	"github.com/herdnet/herd/places"
)

// Attribution is the credit GeoNames' CC BY 4.0 licence asks for; the
// geonames backend puts it in the html_attributions of every answer.
const Attribution = "Data from GeoNames (https://www.geonames.org/), CC BY 4.0"

// PlaceIDPrefix starts the place_id of every geonames result; the
// GeoNames id follows ("geonames:5408522").
const PlaceIDPrefix = "geonames:"

const (
	// vicinityKm bounds the search for the locality named as the vicinity
	// of a neighbourhood or point of interest.
	vicinityKm = 20
)

// Index is the offline backend: GeoNames places in an R-tree, answering
// radius queries with exact great-circle distances, ranked like Google's
// default "prominence": the populated place nearest to the point first (the
// place the point is in), then population descending, then distance
// ascending, then GeoNames order. It is read-only after construction and safe for
// concurrent use.
type Index struct {
	places []place
	text   string        // geonameid digits and names of all places, back to back
	codes  []featureCode // interned feature codes, indexed by place.code
	tree   rtree.RTreeG[uint32]
	pool   sync.Pool // *geoSearch
	attrib []string
}

// place is one GeoNames entry, kept small: strings live in Index.text.
type place struct {
	lat, lon float64
	pop      int64
	off      uint32 // start of the id digits in Index.text; the name follows
	nameLen  uint16
	idLen    uint8
	code     uint16 // index into Index.codes
}

type featureCode struct {
	class    byte
	code     string
	types    []string
	locality bool // may serve as the vicinity of other places
	// sideKm is the viewport side for places without population data.
	sideKm float64
}

// NewGeonames loads a GeoNames file: path "" means the cities500 extract
// embedded in the binary. Otherwise path names a full GeoNames dump (the
// standard 19-column tab-separated format, e.g. allCountries.txt or
// cities15000.txt) or a file made by cmd/placesgen, plain or gzip-compressed
// (detected by its magic bytes, whatever the name).
func Load(path string) (*Index, error) {
	if path == "" {
		return Read(bytes.NewReader(cities500))
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("places: geonames: %w", err)
	}
	defer f.Close()
	g, err := Read(f)
	if err != nil {
		return nil, fmt.Errorf("%w (file %s)", err, path)
	}
	return g, nil
}

// ReadGeonames loads GeoNames data from r, in any of the forms NewGeonames
// accepts.
func Read(r io.Reader) (*Index, error) {
	br := bufio.NewReaderSize(r, 1<<16)
	if magic, _ := br.Peek(2); len(magic) == 2 && magic[0] == 0x1f && magic[1] == 0x8b {
		zr, err := gzip.NewReader(br)
		if err != nil {
			return nil, fmt.Errorf("places: geonames: %w", err)
		}
		defer zr.Close()
		br = bufio.NewReaderSize(zr, 1<<16)
	}
	g := &Index{attrib: []string{Attribution}}
	if err := g.load(br); err != nil {
		return nil, err
	}
	g.pool.New = func() any { return newGeoSearch(g) }
	return g, nil
}

// Column positions of the fields the backend reads.
type columns struct {
	id, name, lat, lon, class, code, country, pop, n int
}

var (
	// The standard GeoNames dump (readme.txt of download.geonames.org/export/dump).
	dumpColumns = columns{id: 0, name: 1, lat: 4, lon: 5, class: 6, code: 7, country: 8, pop: 14, n: 19}
	// The compact form written by cmd/placesgen, announced by compactHeader.
	compactColumns = columns{id: 0, name: 1, lat: 2, lon: 3, class: 4, code: 5, country: 6, pop: 8, n: 9}
)

const compactHeader = "#herd-places-v1\t"

func (g *Index) load(br *bufio.Reader) error {
	cols := dumpColumns
	if head, _ := br.Peek(len(compactHeader)); string(head) == compactHeader {
		cols = compactColumns
	}
	var (
		text    strings.Builder
		codeIdx = make(map[string]uint16)
		fields  [19][]byte
		lineNo  int
	)
	text.Grow(1 << 20)
	for {
		line, err := br.ReadSlice('\n')
		if err == bufio.ErrBufferFull { // a very long line (alternate names): copy it whole
			long := append([]byte(nil), line...)
			for err == bufio.ErrBufferFull {
				line, err = br.ReadSlice('\n')
				long = append(long, line...)
			}
			line = long
		}
		if err != nil && err != io.EOF {
			return fmt.Errorf("places: geonames: line %d: %w", lineNo+1, err)
		}
		if len(line) == 0 && err == io.EOF {
			break
		}
		lineNo++
		line = bytes.TrimRight(line, "\r\n")
		if len(line) == 0 || line[0] == '#' {
			if err == io.EOF {
				break
			}
			continue
		}
		n := splitTabs(fields[:cols.n], line)
		if n != cols.n {
			return fmt.Errorf("places: geonames: line %d: %d columns, want %d", lineNo, n, cols.n)
		}
		p, perr := g.parse(&fields, cols, &text, codeIdx)
		if perr != nil {
			return fmt.Errorf("places: geonames: line %d: %w", lineNo, perr)
		}
		g.places = append(g.places, p)
		if err == io.EOF {
			break
		}
	}
	if len(g.places) == 0 {
		return fmt.Errorf("places: geonames: no places in the data")
	}
	if len(g.places) > math.MaxUint32 || text.Len() > math.MaxUint32 {
		return fmt.Errorf("places: geonames: too much data (%d places)", len(g.places))
	}
	g.text = text.String()
	for i := range g.places {
		p := &g.places[i]
		pt := [2]float64{p.lon, p.lat}
		g.tree.Insert(pt, pt, uint32(i))
	}
	return nil
}

// splitTabs splits line at tabs into fields and returns how many fields the
// line has (which may exceed len(fields); the excess stays unsplit).
func splitTabs(fields [][]byte, line []byte) int {
	n := 0
	for {
		i := bytes.IndexByte(line, '\t')
		if i < 0 || n == len(fields)-1 {
			if n < len(fields) {
				fields[n] = line
			}
			if i >= 0 {
				return n + 1 + bytes.Count(line, []byte{'\t'})
			}
			return n + 1
		}
		fields[n], line = line[:i], line[i+1:]
		n++
	}
}

func (g *Index) parse(f *[19][]byte, c columns, text *strings.Builder, codeIdx map[string]uint16) (place, error) {
	var p place
	id := f[c.id]
	if _, err := strconv.ParseUint(string(id), 10, 64); err != nil || len(id) > math.MaxUint8 {
		return p, fmt.Errorf("bad geonameid %q", id)
	}
	lat, err := strconv.ParseFloat(string(f[c.lat]), 64)
	if err != nil || lat < -90 || lat > 90 {
		return p, fmt.Errorf("bad latitude %q", f[c.lat])
	}
	lon, err := strconv.ParseFloat(string(f[c.lon]), 64)
	if err != nil || lon < -180 || lon > 180 {
		return p, fmt.Errorf("bad longitude %q", f[c.lon])
	}
	var pop int64
	if s := f[c.pop]; len(s) > 0 {
		if pop, err = strconv.ParseInt(string(s), 10, 64); err != nil || pop < 0 {
			return p, fmt.Errorf("bad population %q", s)
		}
	}
	name := f[c.name]
	if len(name) > math.MaxUint16 {
		name = name[:math.MaxUint16]
	}
	var class byte
	if len(f[c.class]) > 0 {
		class = f[c.class][0]
	}
	ci, err := g.internCode(codeIdx, class, f[c.code])
	if err != nil {
		return p, err
	}
	p = place{
		lat: lat, lon: lon, pop: pop,
		off: uint32(text.Len()), idLen: uint8(len(id)), nameLen: uint16(len(name)),
		code: ci,
	}
	text.Write(id)
	text.Write(name)
	return p, nil
}

// internCode returns the index of (class, code) in g.codes, adding it when
// new. codeIdx maps a code to its first index; a code seen with another
// class (not in GeoNames' own data) is found by a scan.
func (g *Index) internCode(codeIdx map[string]uint16, class byte, code []byte) (uint16, error) {
	if ci, ok := codeIdx[string(code)]; ok {
		if g.codes[ci].class == class {
			return ci, nil
		}
		for i := range g.codes {
			if g.codes[i].class == class && g.codes[i].code == string(code) {
				return uint16(i), nil
			}
		}
	}
	if len(g.codes) > math.MaxUint16 {
		return 0, fmt.Errorf("too many feature codes")
	}
	ci := uint16(len(g.codes))
	if _, ok := codeIdx[string(code)]; !ok {
		codeIdx[string(code)] = ci
	}
	g.codes = append(g.codes, newFeatureCode(class, string(code)))
	return ci, nil
}

func newFeatureCode(class byte, code string) featureCode {
	fc := featureCode{class: class, code: code, types: placeTypes(class, code), locality: isLocality(class, code)}
	switch class {
	case 'P', 'A':
		fc.sideKm = 2
	case 'H', 'T', 'U', 'V', 'L':
		fc.sideKm = 1
	default:
		fc.sideKm = 0.3
	}
	return fc
}

// Len is the number of places loaded.
func (g *Index) Len() int { return len(g.places) }

// Name implements places.Provider.
func (g *Index) Name() string { return "geonames" }

func (g *Index) id(p *place) string {
	return g.text[p.off : p.off+uint32(p.idLen)]
}

func (g *Index) name(p *place) string {
	start := p.off + uint32(p.idLen)
	return g.text[start : start+uint32(p.nameLen)]
}

// Nearby implements places.Provider. It never fails on a valid query; a radius
// above 50 km is clamped to 50 km and a limit above 20 to 20, as Google does.
func (g *Index) Nearby(ctx context.Context, q places.Query, dst []byte) ([]byte, error) {
	if err := ctx.Err(); err != nil {
		return dst, err
	}
	if !(q.RadiusKm > 0) || math.IsInf(q.RadiusKm, 0) || q.Limit < 1 ||
		!(q.Lat >= -90 && q.Lat <= 90) || !(q.Lon >= -180 && q.Lon <= 180) {
		return dst, &places.Error{Status: places.StatusInvalidRequest, Message: "invalid location, radius or limit"}
	}
	s := g.pool.Get().(*geoSearch)
	dst = s.run(q, dst)
	g.pool.Put(s)
	return dst, nil
}

// geoSearch is the scratch state of one query, pooled so that a query does
// not allocate: the R-tree callbacks are method values bound once.
type geoSearch struct {
	g                *Index
	lat, lon, radius float64
	limit, n         int
	top              [places.MaxLimit]candidate
	nearest          candidate // the nearest populated place: where the point is
	hasNearest       bool
	boxes            [2]box
	visit            func(min, max [2]float64, i uint32) bool

	// Nearest-locality search for the vicinity.
	visitLocality func(min, max [2]float64, i uint32) bool
	vLat, vLon    float64
	vBest         int
	vBestKm       float64
}

type candidate struct {
	i    uint32
	pop  int64
	dist float64
}

// before reports whether a ranks ahead of b: more population first, then
// nearer, then earlier in the data.
func (a *candidate) before(b *candidate) bool {
	if a.pop != b.pop {
		return a.pop > b.pop
	}
	if a.dist != b.dist {
		return a.dist < b.dist
	}
	return a.i < b.i
}

func newGeoSearch(g *Index) *geoSearch {
	s := &geoSearch{g: g}
	s.visit = s.onCandidate
	s.visitLocality = s.onLocality
	return s
}

func (s *geoSearch) run(q places.Query, dst []byte) []byte {
	s.lat, s.lon = q.Lat, q.Lon
	s.radius = math.Min(q.RadiusKm, places.MaxRadiusKm)
	s.limit = min(q.Limit, places.MaxLimit)
	s.n, s.hasNearest = 0, false
	for _, b := range searchBoxes(s.boxes[:0], s.lat, s.lon, s.radius) {
		s.g.tree.Search(b.min, b.max, s.visit)
	}
	s.pinNearest()

	dst = places.AppendBodyStart(dst, s.g.attrib)
	for k := 0; k < s.n; k++ {
		p := &s.g.places[s.top[k].i]
		fc := &s.g.codes[p.code]
		r := places.Result{
			Lat: p.lat, Lng: p.lon,
			HasViewport:   true,
			Name:          s.g.name(p),
			PlaceIDPrefix: PlaceIDPrefix,
			PlaceID:       s.g.id(p),
			Types:         fc.types,
		}
		// The viewport is not in GeoNames. It is a square centred on the
		// place: for a populated place with a known population, the square
		// that would hold that population at 1000 people per km² (side
		// sqrt(population/1000) km, between 1 and 50 km); otherwise 2 km
		// for populated and administrative places, 1 km for land, water and
		// terrain features and 300 m for buildings and other spots.
		side := fc.sideKm
		if (fc.class == 'P' || fc.class == 'A') && p.pop > 0 {
			side = math.Min(math.Max(math.Sqrt(float64(p.pop)/1000), 1), 50)
		}
		r.NE, r.SW = viewportAround(p.lat, p.lon, side)
		r.Vicinity = s.vicinity(p, fc)
		dst = places.AppendResult(dst, k, &r)
	}
	status := places.StatusOK
	if s.n == 0 {
		status = places.StatusZeroResults
	}
	return places.AppendBodyEnd(dst, s.n, status)
}

// pinNearest puts the nearest populated place first: the answer starts
// with the place the point is in (Westwood for UCLA), as Google's does with
// the neighbourhood or locality of the query point, and goes on by
// prominence. If it was not among the top results it displaces the last.
func (s *geoSearch) pinNearest() {
	if !s.hasNearest {
		return
	}
	k := 0
	for k < s.n && s.top[k].i != s.nearest.i {
		k++
	}
	if k == s.n { // not in the list: make room at the end
		if s.n < s.limit {
			s.n++
		}
		k = s.n - 1
	}
	copy(s.top[1:k+1], s.top[:k])
	s.top[0] = s.nearest
}

func (s *geoSearch) onCandidate(_, _ [2]float64, i uint32) bool {
	p := &s.g.places[i]
	d := haversineKm(s.lat, s.lon, p.lat, p.lon)
	if d > s.radius {
		return true
	}
	c := candidate{i: i, pop: p.pop, dist: d}
	if s.g.codes[p.code].class == 'P' && (!s.hasNearest || d < s.nearest.dist || (d == s.nearest.dist && i < s.nearest.i)) {
		s.nearest, s.hasNearest = c, true
	}
	if s.n == s.limit {
		if !c.before(&s.top[s.n-1]) {
			return true
		}
		s.n--
	}
	// Insertion into the sorted top list; it holds at most 20.
	k := s.n
	for k > 0 && c.before(&s.top[k-1]) {
		s.top[k] = s.top[k-1]
		k--
	}
	s.top[k] = c
	s.n++
	return true
}

// vicinity is the place's own name for localities and administrative
// areas; for neighbourhoods and points of interest, the name of the nearest
// locality within vicinityKm, or the place's own name when there is none.
func (s *geoSearch) vicinity(p *place, fc *featureCode) string {
	if fc.locality || fc.class == 'A' {
		return s.g.name(p)
	}
	s.vLat, s.vLon, s.vBest, s.vBestKm = p.lat, p.lon, -1, math.Inf(1)
	for _, b := range searchBoxes(s.boxes[:0], p.lat, p.lon, vicinityKm) {
		s.g.tree.Search(b.min, b.max, s.visitLocality)
	}
	if s.vBest < 0 {
		return s.g.name(p)
	}
	return s.g.name(&s.g.places[s.vBest])
}

func (s *geoSearch) onLocality(_, _ [2]float64, i uint32) bool {
	p := &s.g.places[i]
	if !s.g.codes[p.code].locality {
		return true
	}
	d := haversineKm(s.vLat, s.vLon, p.lat, p.lon)
	if d <= vicinityKm && (d < s.vBestKm || d == s.vBestKm && int(i) < s.vBest) {
		s.vBest, s.vBestKm = int(i), d
	}
	return true
}
