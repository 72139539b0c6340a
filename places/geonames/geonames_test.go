package geonames

import (
	"bytes"
	"compress/gzip"
	"context"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/herdnet/herd/places"
	"github.com/herdnet/herd/places/internal/placestest"
)

var (
	embeddedOnce sync.Once
	embedded     *Index
	embeddedErr  error
)

// embeddedGeonames loads the embedded extract once per test binary.
func embeddedGeonames(t testing.TB) *Index {
	t.Helper()
	embeddedOnce.Do(func() { embedded, embeddedErr = Load("") })
	if embeddedErr != nil {
		t.Fatal(embeddedErr)
	}
	return embedded
}

// distanceKm is the test's own great-circle distance (spherical law of
// cosines, not the haversine the package uses).
func distanceKm(lat1, lon1, lat2, lon2 float64) float64 {
	r := math.Pi / 180
	c := math.Sin(lat1*r)*math.Sin(lat2*r) + math.Cos(lat1*r)*math.Cos(lat2*r)*math.Cos((lon2-lon1)*r)
	return 6371.0088 * math.Acos(math.Max(-1, math.Min(1, c)))
}

func names(lb placestest.LegacyBody) []string {
	var n []string
	for _, r := range lb.Results {
		n = append(n, r.Name)
	}
	return n
}

func TestGeonamesUCLA(t *testing.T) {
	g := embeddedGeonames(t)
	ctx := context.Background()

	b, err := g.Nearby(ctx, places.Query{Lat: placestest.UCLALat, Lon: placestest.UCLALon, RadiusKm: 10, Limit: 5}, nil)
	if err != nil {
		t.Fatal(err)
	}
	lb := placestest.DecodeBody(t, b)
	if lb.Status != "OK" || len(lb.Results) != 5 {
		t.Fatalf("status %s, %d results", lb.Status, len(lb.Results))
	}
	if !slices.Equal(lb.HTMLAttributions, []string{Attribution}) {
		t.Errorf("html_attributions = %q", lb.HTMLAttributions)
	}
	// The place the point is in first (Westwood, the nearest populated
	// place, 1.95 km), then the most populous places within 10 km.
	want := []string{"Westwood", "Santa Monica", "Sherman Oaks", "Venice", "Culver City"}
	if got := names(lb); !slices.Equal(got, want) {
		t.Errorf("names = %q, want %q", got, want)
	}
	for _, r := range lb.Results {
		loc := r.Geometry.Location
		if d := distanceKm(placestest.UCLALat, placestest.UCLALon, loc.Lat, loc.Lng); d > 10 {
			t.Errorf("%s is %.3f km away", r.Name, d)
		}
		if !strings.HasPrefix(r.PlaceID, PlaceIDPrefix) || len(r.Types) == 0 || r.Vicinity == "" {
			t.Errorf("incomplete result %+v", r)
		}
		vp := r.Geometry.Viewport
		if !(vp.Southwest.Lat < loc.Lat && loc.Lat < vp.Northeast.Lat && vp.Southwest.Lng < loc.Lng && loc.Lng < vp.Northeast.Lng) {
			t.Errorf("%s: viewport %+v does not hold %+v", r.Name, vp, loc)
		}
	}
	if lb.Results[0].PlaceID != "geonames:5408522" || !slices.Equal(lb.Results[0].Types, []string{"neighborhood", "political"}) {
		t.Errorf("first result %+v", lb.Results[0])
	}

	// The full page goes on by population: West Hollywood (36,222) next.
	b, err = g.Nearby(ctx, places.Query{Lat: placestest.UCLALat, Lon: placestest.UCLALon, RadiusKm: 10, Limit: 20}, nil)
	if err != nil {
		t.Fatal(err)
	}
	lb = placestest.DecodeBody(t, b)
	n := names(lb)
	if len(n) != 10 || n[5] != "West Hollywood" || n[9] != "Century City" {
		t.Errorf("page of 20: %q", n)
	}
	if !slices.Equal(n[:5], want) {
		t.Errorf("page of 20 does not start with the page of 5: %q", n)
	}
	for _, r := range lb.Results {
		if d := distanceKm(placestest.UCLALat, placestest.UCLALon, r.Geometry.Location.Lat, r.Geometry.Location.Lng); d > 10 {
			t.Errorf("%s is %.3f km away", r.Name, d)
		}
	}
}

func TestGeonamesZeroResults(t *testing.T) {
	g := embeddedGeonames(t)
	b, err := g.Nearby(context.Background(), places.Query{Lat: 0, Lon: -140, RadiusKm: 1, Limit: 5}, []byte("AT x\n"))
	if err != nil {
		t.Fatal(err)
	}
	want := "AT x\n{\n   \"html_attributions\" : [ \"" + Attribution + "\" ],\n   \"results\" : [],\n   \"status\" : \"ZERO_RESULTS\"\n}"
	if string(b) != want {
		t.Errorf("got\n%s\nwant\n%s", b, want)
	}
}

func TestGeonamesInvalidQuery(t *testing.T) {
	g := embeddedGeonames(t)
	for _, q := range []places.Query{
		{Lat: 0, Lon: 0, RadiusKm: 0, Limit: 5},
		{Lat: 0, Lon: 0, RadiusKm: math.NaN(), Limit: 5},
		{Lat: 91, Lon: 0, RadiusKm: 1, Limit: 5},
		{Lat: 0, Lon: 0, RadiusKm: 1, Limit: 0},
	} {
		_, err := g.Nearby(context.Background(), q, nil)
		if st, _ := places.StatusOf(err); st != places.StatusInvalidRequest {
			t.Errorf("%+v: err %v", q, err)
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := g.Nearby(ctx, places.Query{Lat: 0, Lon: 0, RadiusKm: 1, Limit: 1}, nil); err == nil {
		t.Error("cancelled context: no error")
	}
}

// TestGeonamesLoad loads the embedded extract whole. How long it takes is
// BenchmarkGeonamesLoad's to say, not a test's.
func TestGeonamesLoad(t *testing.T) {
	g, err := Load("")
	if err != nil {
		t.Fatal(err)
	}
	if g.Len() < 190000 {
		t.Errorf("only %d places", g.Len())
	}
}

// dumpRow is one line of a standard 19-column GeoNames dump.
func dumpRow(id int, name string, lat, lon float64, class, code string, pop int) string {
	return fmt.Sprintf("%d\t%s\t%s\t\t%g\t%g\t%s\t%s\tXX\t\t01\t\t\t\t%d\t\t0\tEtc/UTC\t2024-01-01\n",
		id, name, name, lat, lon, class, code, pop)
}

// writeDump writes rows to a file in a temp dir, gzipped when the name ends
// in .gz, and loads it through NewGeonames.
func writeDump(t *testing.T, name string, rows ...string) *Index {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	data := []byte(strings.Join(rows, ""))
	if strings.HasSuffix(name, ".gz") {
		var buf bytes.Buffer
		zw := gzip.NewWriter(&buf)
		zw.Write(data)
		zw.Close()
		data = buf.Bytes()
	}
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	g, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	return g
}

func nearby(t *testing.T, p places.Provider, lat, lon, km float64, limit int) placestest.LegacyBody {
	t.Helper()
	b, err := p.Nearby(context.Background(), places.Query{Lat: lat, Lon: lon, RadiusKm: km, Limit: limit}, nil)
	if err != nil {
		t.Fatal(err)
	}
	return placestest.DecodeBody(t, b)
}

func TestGeonamesPoles(t *testing.T) {
	g := writeDump(t, "poles.txt",
		dumpRow(1, "North A", 89.95, 0, "P", "PPL", 100),
		dumpRow(2, "North B", 89.95, 179, "P", "PPL", 90),
		dumpRow(3, "North C", 89.95, -90, "P", "PPL", 80),
		dumpRow(4, "North far", 89.5, 45, "P", "PPL", 70), // 44 km from the query
		dumpRow(5, "South A", -89.99, 120, "P", "PPL", 60),
		dumpRow(6, "South B", -89.995, -60, "P", "PPL", 50), // nearer the pole
	)
	// 89.9N is 11 km from the pole; places 5.6 km from the pole on the far
	// side are at most 16.7 km away whatever their longitude.
	lb := nearby(t, g, 89.9, 45, 20, 20)
	if got, want := names(lb), []string{"North A", "North B", "North C"}; !slices.Equal(got, want) {
		t.Errorf("north: %q, want %q", got, want)
	}
	lb = nearby(t, g, -90, 0, 5, 20)
	// The nearest populated place first, then by population.
	if got, want := names(lb), []string{"South B", "South A"}; !slices.Equal(got, want) {
		t.Errorf("south: %q, want %q", got, want)
	}
	for _, r := range lb.Results {
		vp := r.Geometry.Viewport
		if vp.Northeast.Lat > 90 || vp.Southwest.Lat < -90 {
			t.Errorf("viewport beyond the pole: %+v", vp)
		}
	}
}

func TestGeonamesAntimeridian(t *testing.T) {
	g := writeDump(t, "antimeridian.txt.gz",
		dumpRow(1, "East of line", 0, -179.95, "P", "PPL", 500), // 6.7 km from the query
		dumpRow(2, "West of line", 0, 179.95, "P", "PPL", 400),  // 4.4 km
		dumpRow(3, "Too far", 0, -179.8, "P", "PPL", 1000),      // 23 km
		dumpRow(4, "Fiji-ish", -16.5, 179.999, "P", "PPL", 2000),
		dumpRow(5, "Across", -16.5, -179.99, "P", "PPL", 10), // 1 km from the query
	)
	lb := nearby(t, g, 0, 179.99, 10, 20) // West of line is nearest, so first
	if got, want := names(lb), []string{"West of line", "East of line"}; !slices.Equal(got, want) {
		t.Errorf("from the west: %q, want %q", got, want)
	}
	lb = nearby(t, g, 0, -179.99, 10, 20)
	if got, want := names(lb), []string{"East of line", "West of line"}; !slices.Equal(got, want) {
		t.Errorf("from the east: %q, want %q", got, want)
	}
	lb = nearby(t, g, -16.5, -179.999, 3, 20)
	if got, want := names(lb), []string{"Fiji-ish", "Across"}; !slices.Equal(got, want) {
		t.Errorf("Fiji: %q, want %q", got, want)
	}
	// A viewport across the line wraps: northeast lng < southwest lng.
	vp := lb.Results[0].Geometry.Viewport
	if !(vp.Northeast.Lng < vp.Southwest.Lng && vp.Northeast.Lng >= -180 && vp.Southwest.Lng <= 180) {
		t.Errorf("viewport across the antimeridian: %+v", vp)
	}
}

func TestGeonamesFeatureCodes(t *testing.T) {
	g := writeDump(t, "codes.txt",
		dumpRow(10, "Town", 10, 10, "P", "PPL", 5000),
		dumpRow(11, "Uni of \"Town\"", 10.001, 10.001, "S", "UNIV", 0),
		dumpRow(12, "General Hospital", 10.002, 10.002, "S", "HSPC", 0),
		dumpRow(13, "Café \\ Bistro", 10.003, 10.003, "S", "REST", 0),
		dumpRow(14, "Town Airport", 10.02, 10.02, "S", "AIRP", 0),
		dumpRow(15, "Old Quarter", 10.004, 10.004, "P", "PPLX", 0),
		dumpRow(16, "Province", 10.005, 10.005, "A", "ADM1", 0),
		dumpRow(17, "District", 10.006, 10.006, "A", "ADM3", 0),
		dumpRow(18, "Country", 10.007, 10.007, "A", "PCLI", 0),
		dumpRow(19, "Hill", 10.008, 10.008, "T", "HLL", 0),
		dumpRow(20, "Hut", 10.009, 10.009, "S", "HUT", 0),
		dumpRow(21, "Lonely Hotel", 12, 12, "S", "HTL", 0),
	)
	lb := nearby(t, g, 10, 10, 5, 20)
	want := map[string]struct {
		types    []string
		vicinity string
	}{
		"Town":             {[]string{"locality", "political"}, "Town"},
		`Uni of "Town"`:    {[]string{"university", "point_of_interest", "establishment"}, "Town"},
		"General Hospital": {[]string{"hospital", "point_of_interest", "establishment"}, "Town"},
		`Café \ Bistro`:    {[]string{"restaurant", "point_of_interest", "establishment"}, "Town"},
		"Town Airport":     {[]string{"airport", "point_of_interest", "establishment"}, "Town"},
		"Old Quarter":      {[]string{"neighborhood", "political"}, "Town"},
		"Province":         {[]string{"administrative_area_level_1", "political"}, "Province"},
		"District":         {[]string{"administrative_area_level_3", "political"}, "District"},
		"Country":          {[]string{"country", "political"}, "Country"},
		"Hill":             {[]string{"natural_feature", "establishment"}, "Town"},
		"Hut":              {[]string{"point_of_interest", "establishment"}, "Town"},
	}
	if len(lb.Results) != len(want) {
		t.Errorf("%d results, want %d: %q", len(lb.Results), len(want), names(lb))
	}
	for _, r := range lb.Results {
		w, ok := want[r.Name]
		if !ok {
			t.Errorf("unexpected %q", r.Name)
			continue
		}
		if !slices.Equal(r.Types, w.types) || r.Vicinity != w.vicinity {
			t.Errorf("%s: types %q vicinity %q, want %q %q", r.Name, r.Types, r.Vicinity, w.types, w.vicinity)
		}
	}
	// Same population (0): nearest first.
	if n := names(lb); n[0] != "Town" || n[1] != `Uni of "Town"` || n[len(n)-1] != "Town Airport" {
		t.Errorf("order %q", n)
	}
	// No locality within 20 km: the place's own name.
	lb = nearby(t, g, 12, 12, 1, 5)
	if len(lb.Results) != 1 || lb.Results[0].Vicinity != "Lonely Hotel" || lb.Results[0].Types[0] != "lodging" {
		t.Errorf("lonely hotel: %+v", lb.Results)
	}
}

func TestGeonamesCompactForm(t *testing.T) {
	data := compactHeader + "geonameid\tname\tlatitude\tlongitude\tfeature_class\tfeature_code\tcountry_code\tadmin1_code\tpopulation\n" +
		"7\tSeven\t1.5\t2.5\tP\tPPL\tXX\t01\t700\n"
	g, err := Read(strings.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	lb := nearby(t, g, 1.5, 2.5, 1, 1)
	if len(lb.Results) != 1 || lb.Results[0].PlaceID != "geonames:7" || lb.Results[0].Name != "Seven" {
		t.Errorf("%+v", lb.Results)
	}
}

func TestGeonamesBadData(t *testing.T) {
	for name, data := range map[string]string{
		"empty":        "",
		"short row":    "1\tA\tA\t\t1\t2\tP\tPPL\n",
		"bad latitude": strings.Replace(dumpRow(1, "A", 1, 2, "P", "PPL", 0), "\t1\t2\t", "\tx\t2\t", 1),
		"bad id":       strings.Replace(dumpRow(1, "A", 1, 2, "P", "PPL", 0), "1\tA", "x\tA", 1),
		"extra column": strings.TrimSuffix(dumpRow(1, "A", 1, 2, "P", "PPL", 0), "\n") + "\tmore\n",
	} {
		if _, err := Read(strings.NewReader(data)); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
	if _, err := Load(filepath.Join(t.TempDir(), "missing.txt")); err == nil {
		t.Error("missing file: no error")
	}
}

func BenchmarkGeonamesNearby(b *testing.B) {
	g := embeddedGeonames(b)
	ctx := context.Background()
	q := places.Query{Lat: placestest.UCLALat, Lon: placestest.UCLALon, RadiusKm: 10, Limit: 5}
	dst := make([]byte, 0, 16<<10)
	b.ReportAllocs()
	var n int
	for b.Loop() {
		out, err := g.Nearby(ctx, q, dst[:0])
		if err != nil {
			b.Fatal(err)
		}
		n = len(out)
	}
	b.SetBytes(int64(n))
}

func BenchmarkGeonamesLoad(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Load(""); err != nil {
			b.Fatal(err)
		}
	}
}
