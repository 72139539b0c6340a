package geonames

import "strings"

// GeoNames feature codes (https://www.geonames.org/export/codes.html) mapped
// to Google place types (the legacy Table 1/Table 2 vocabulary). The slices
// are shared by every place with the same code and must never be modified.
var (
	typesLocality     = []string{"locality", "political"}
	typesNeighborhood = []string{"neighborhood", "political"}
	typesCountry      = []string{"country", "political"}
	typesPolitical    = []string{"political"}
	typesAdmin        = [...][]string{
		{"administrative_area_level_1", "political"},
		{"administrative_area_level_2", "political"},
		{"administrative_area_level_3", "political"},
		{"administrative_area_level_4", "political"},
		{"administrative_area_level_5", "political"},
	}
	typesPOI     = []string{"point_of_interest", "establishment"}
	typesNatural = []string{"natural_feature", "establishment"}
)

// establishmentTypes maps spot, land and other feature codes to the Google
// type that fits; the result is followed by point_of_interest and
// establishment.
var establishmentTypes = map[string]string{
	// Education.
	"UNIV": "university", "SCHC": "university", "SCH": "school", "SCHA": "school",
	"SCHL": "school", "SCHM": "school", "SCHN": "school", "SCHT": "school",
	"LIBR": "library",
	// Health.
	"HSP": "hospital", "HSPC": "hospital", "HSPD": "hospital", "HSPL": "hospital",
	"CTRM": "hospital",
	// Food and lodging.
	"REST": "restaurant", "HTL": "lodging", "MTEL": "lodging", "RHSE": "lodging",
	// Transport.
	"AIRP": "airport", "AIRF": "airport", "AIRB": "airport", "AIRH": "airport",
	"RSTN": "train_station", "RSTP": "train_station", "MTRO": "subway_station",
	"BUSTN": "bus_station", "BUSTP": "bus_station",
	// Culture and leisure.
	"MUS": "museum", "ZOO": "zoo", "AMUS": "amusement_park", "STDM": "stadium",
	"CSNO": "casino", "SPA": "spa", "PRK": "park", "GDN": "park",
	"THTR": "tourist_attraction", "AMTH": "tourist_attraction", "MNMT": "tourist_attraction",
	"CSTL": "tourist_attraction", "RUIN": "tourist_attraction", "HSTS": "tourist_attraction",
	// Worship.
	"CH": "church", "MSQE": "mosque", "SYG": "synagogue", "TMPL": "place_of_worship",
	"SHRN": "place_of_worship", "MSTY": "place_of_worship", "CVNT": "place_of_worship",
	"PGDA": "place_of_worship", "CMTY": "cemetery",
	// Commerce and services.
	"MALL": "shopping_mall", "SHPC": "shopping_mall", "MKT": "store", "BANK": "bank",
	"PO": "post_office",
	// Government.
	"CTHSE": "courthouse", "PP": "police", "ADMF": "local_government_office",
	"GOVL": "local_government_office",
}

// establishmentTypeLists holds the full type list for each entry of
// establishmentTypes, built once so a query never allocates one.
var establishmentTypeLists = func() map[string][]string {
	m := make(map[string][]string, len(establishmentTypes))
	for code, t := range establishmentTypes {
		m[code] = []string{t, "point_of_interest", "establishment"}
	}
	return m
}()

// placeTypes returns the Google types for a GeoNames feature class and code.
// The answer is shared and read-only.
//
//   - P (populated places): PPLX (section of a populated place) is a
//     neighborhood, every other PPL* a locality; both are "political".
//   - A (administrative): PCL* is a country, ADM1..ADM5 (and their
//     historical ADMnH) administrative_area_level_N, ADMD and the rest just
//     "political".
//   - Spots, land, water and terrain (S, L, H, T, U, V, R) get the mapped
//     type, then point_of_interest and establishment. H, T, U and V without a
//     mapping are natural_feature; anything else is a plain point_of_interest.
func placeTypes(class byte, code string) []string {
	switch class {
	case 'P':
		if code == "PPLX" {
			return typesNeighborhood
		}
		return typesLocality
	case 'A':
		switch {
		case strings.HasPrefix(code, "PCL"):
			return typesCountry
		case len(code) >= 4 && code[:3] == "ADM" && code[3] >= '1' && code[3] <= '5' &&
			(len(code) == 4 || code[4:] == "H"):
			return typesAdmin[code[3]-'1']
		}
		return typesPolitical
	}
	if t, ok := establishmentTypeLists[code]; ok {
		return t
	}
	switch class {
	case 'H', 'T', 'U', 'V':
		return typesNatural
	}
	return typesPOI
}

// isLocality reports whether a feature class and code name a settlement that
// can serve as a vicinity (a populated place, not a section of one).
func isLocality(class byte, code string) bool {
	return class == 'P' && code != "PPLX"
}
