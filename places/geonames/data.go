package geonames

import _ "embed"

// cities500 is the GeoNames "cities500" extract (all populated places with
// at least 500 people, about 200 000) in the compact form written by
// cmd/placesgen. Source, version and licence: places/geonames/NOTICE.
//
//go:embed data/cities500.tsv.gz
var cities500 []byte

//go:generate sh gendata.sh
