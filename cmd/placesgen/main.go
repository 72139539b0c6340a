// Command placesgen turns a GeoNames dump (the standard 19-column,
// tab-separated format, plain or gzip-compressed) into the compact form that
// the places package embeds: a gzip-compressed TSV with a header line and only
// the columns the geonames backend reads (geonameid, name, latitude,
// longitude, feature class, feature code, country code, admin1 code,
// population). Rows keep the order of the input; the gzip header carries no
// name or time, so the same input always gives the same bytes.
//
// Usage:
//
//	go run ./cmd/placesgen -in cities500.txt -out places/geonames/data/cities500.tsv.gz
package main

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strconv"
)

// header is the first line of the compact form; places.loadCompact checks it.
const header = "#herd-places-v1\tgeonameid\tname\tlatitude\tlongitude\tfeature_class\tfeature_code\tcountry_code\tadmin1_code\tpopulation"

// Columns of a GeoNames dump row that are kept, in output order.
var keep = [...]int{0, 1, 4, 5, 6, 7, 8, 10, 14}

func main() {
	in := flag.String("in", "", "GeoNames dump to read (19 columns, plain or .gz)")
	out := flag.String("out", "places/geonames/data/cities500.tsv.gz", "compact gzip file to write")
	flag.Parse()
	if *in == "" {
		fmt.Fprintln(os.Stderr, "placesgen: -in is required")
		flag.Usage()
		os.Exit(2)
	}
	n, err := run(*in, *out)
	if err != nil {
		fmt.Fprintln(os.Stderr, "placesgen:", err)
		os.Exit(1)
	}
	fmt.Fprintf(os.Stderr, "placesgen: wrote %d places to %s\n", n, *out)
}

func run(inPath, outPath string) (int, error) {
	f, err := os.Open(inPath)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	br := bufio.NewReaderSize(f, 1<<20)
	var r io.Reader = br
	if magic, _ := br.Peek(2); len(magic) == 2 && magic[0] == 0x1f && magic[1] == 0x8b {
		zr, err := gzip.NewReader(br)
		if err != nil {
			return 0, err
		}
		defer zr.Close()
		r = zr
	}

	tmp := outPath + ".tmp"
	of, err := os.Create(tmp)
	if err != nil {
		return 0, err
	}
	n, err := convert(r, of)
	if cerr := of.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(tmp)
		return 0, err
	}
	return n, os.Rename(tmp, outPath)
}

// convert reads dump rows from r and writes the compact gzip form to w.
func convert(r io.Reader, w io.Writer) (int, error) {
	zw, err := gzip.NewWriterLevel(w, gzip.BestCompression)
	if err != nil {
		return 0, err
	}
	bw := bufio.NewWriterSize(zw, 1<<20)
	bw.WriteString(header)
	bw.WriteByte('\n')

	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 1<<16), 1<<24)
	var fields [19][]byte
	n, lineNo := 0, 0
	for sc.Scan() {
		lineNo++
		line := sc.Bytes()
		if len(line) == 0 || line[0] == '#' {
			continue
		}
		k := 0
		for k < len(fields)-1 {
			i := bytes.IndexByte(line, '\t')
			if i < 0 {
				break
			}
			fields[k], line = line[:i], line[i+1:]
			k++
		}
		fields[k] = line
		if k != len(fields)-1 || bytes.IndexByte(line, '\t') >= 0 {
			return n, fmt.Errorf("line %d: want 19 tab-separated columns", lineNo)
		}
		if _, err := strconv.ParseUint(string(fields[0]), 10, 32); err != nil {
			return n, fmt.Errorf("line %d: bad geonameid %q", lineNo, fields[0])
		}
		for j, c := range keep {
			if j > 0 {
				bw.WriteByte('\t')
			}
			bw.Write(fields[c])
		}
		bw.WriteByte('\n')
		n++
	}
	if err := sc.Err(); err != nil {
		return n, err
	}
	if n == 0 {
		return 0, errors.New("no rows in input")
	}
	if err := bw.Flush(); err != nil {
		return n, err
	}
	return n, zw.Close()
}
