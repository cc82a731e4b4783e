package synth

import (
	"bufio"
	"embed"
	"strconv"
	"strings"
)

//go:embed data/*.txt data/*.tsv
var dataFS embed.FS

type place struct {
	kommunenummer, kommune string
	postnummer, poststed   string
}

type municipality struct {
	number, name string
	weight       int
	places       []place
}

var (
	givenFemale, givenMale, surnames []string
	givenForeign, surnamesForeign    []string
	streets                          []string
	municipalities                   []*municipality
)

func init() {
	givenFemale = lines("data/given_female.txt")
	givenMale = lines("data/given_male.txt")
	surnames = lines("data/surnames.txt")
	givenForeign = lines("data/given_foreign.txt")
	surnamesForeign = lines("data/surnames_foreign.txt")
	streets = lines("data/streets.txt")
	byNumber := map[string]*municipality{}
	for _, l := range lines("data/places.tsv") {
		f := strings.Split(l, "\t")
		if len(f) != 5 {
			panic("synth: bad line in data/places.tsv: " + l)
		}
		m := byNumber[f[0]]
		if m == nil {
			w, err := strconv.Atoi(f[2])
			if err != nil {
				panic("synth: bad weight in data/places.tsv: " + l)
			}
			m = &municipality{number: f[0], name: f[1], weight: w}
			byNumber[f[0]] = m
			municipalities = append(municipalities, m)
		}
		m.places = append(m.places, place{kommunenummer: f[0], kommune: f[1], postnummer: f[3], poststed: f[4]})
	}
}

func lines(name string) []string {
	f, err := dataFS.Open(name)
	if err != nil {
		panic("synth: " + err.Error())
	}
	defer f.Close()
	var out []string
	s := bufio.NewScanner(f)
	for s.Scan() {
		l := strings.TrimSpace(s.Text())
		if l == "" || l[0] == '#' {
			continue
		}
		out = append(out, l)
	}
	return out
}
