package synth

import (
	"math/rand/v2"
	"strconv"

	"github.com/sandkasse/sandkasse/validator/nationalid"
)

// Streams of randomness besides the patients' (patient i uses stream i+1).
const streamWorld = 0

// HPR numbers have no public check digit. Real ones are issued in sequence
// and are at most eight digits today; the generator draws nine-digit numbers
// starting with 999, far outside the issued range, so a generated HPR
// number can never name a real health worker.
const hprSyntheticBase = 999_000_000

type org struct {
	id, name, orgnr string
	ref             string
}

type practitioner struct {
	id, hpr      string
	given        string
	family       string
	female       bool
	ref, display string
}

type muniWorld struct {
	m         *municipality
	kommune   org
	homecare  org
	gpOffice  org
	gps       []*practitioner
	nurses    []*practitioner
	office    place
	cumWeight int
}

type world struct {
	opts        Options
	munis       []*muniWorld
	totalWeight int
	meds        []medRef
	catID       string // Questionnaire ids are fixed: they are definitions
	phqID       string
}

type medRef struct{ id, ref, display string }

func newWorld(o Options) *world {
	r := rng(o.Seed, streamWorld)
	w := &world{opts: o, catID: catQuestionnaireID, phqID: phqQuestionnaireID}
	// Municipalities: a weighted draw without replacement, more of them for
	// larger populations.
	k := 3 + o.Patients/250
	if k > len(municipalities) {
		k = len(municipalities)
	}
	pool := append([]*municipality(nil), municipalities...)
	for len(w.munis) < k {
		total := 0
		for _, m := range pool {
			total += m.weight
		}
		x := r.IntN(total)
		j := 0
		for ; x >= pool[j].weight; j++ {
			x -= pool[j].weight
		}
		m := pool[j]
		pool = append(pool[:j], pool[j+1:]...)
		w.totalWeight += m.weight
		w.munis = append(w.munis, &muniWorld{m: m, cumWeight: w.totalWeight})
	}
	for _, mw := range w.munis {
		expected := o.Patients * mw.m.weight / w.totalWeight
		mw.office = mw.m.places[r.IntN(len(mw.m.places))]
		mw.kommune = newOrg(r, mw.m.name+" kommune")
		mw.homecare = newOrg(r, "Hjemmetjenesten i "+mw.m.name+" kommune")
		mw.gpOffice = newOrg(r, mw.office.poststed+" legesenter")
		ngp := 1 + expected/400
		if ngp > 25 {
			ngp = 25
		}
		nnurse := 1 + expected/150
		if nnurse > 40 {
			nnurse = 40
		}
		for range ngp {
			mw.gps = append(mw.gps, newPractitioner(r))
		}
		for range nnurse {
			mw.nurses = append(mw.nurses, newPractitioner(r))
		}
	}
	for _, m := range medications {
		id := uuid(r)
		w.meds = append(w.meds, medRef{id: id, ref: "Medication/" + id, display: m.name})
	}
	return w
}

func newOrg(r *rand.Rand, name string) org {
	id := uuid(r)
	return org{id: id, name: name, orgnr: nationalid.SyntheticOrgNumber(r), ref: "Organization/" + id}
}

func newPractitioner(r *rand.Rand) *practitioner {
	p := &practitioner{id: uuid(r), female: r.IntN(100) < 55}
	p.hpr = strconv.Itoa(hprSyntheticBase + r.IntN(1_000_000))
	if p.female {
		p.given = pick(r, givenFemale)
	} else {
		p.given = pick(r, givenMale)
	}
	p.family = pick(r, surnames)
	p.ref = "Practitioner/" + p.id
	p.display = p.given + " " + p.family
	return p
}

func pick(r *rand.Rand, list []string) string { return list[r.IntN(len(list))] }

// municipalityFor draws a municipality by weight.
func (w *world) municipalityFor(r *rand.Rand) *muniWorld {
	x := r.IntN(w.totalWeight)
	for _, mw := range w.munis {
		if x < mw.cumWeight {
			return mw
		}
	}
	return w.munis[len(w.munis)-1]
}

// shared writes the resources every patient refers to.
func (w *world) shared(b *batch) {
	r := rng(w.opts.Seed, streamWorld+1<<62) // house numbers of offices
	for _, mw := range w.munis {
		w.organization(b, mw.kommune, "govt", "Government", "", mw, r)
		w.organization(b, mw.homecare, "prov", "Healthcare Provider", mw.kommune.ref, mw, r)
		w.organization(b, mw.gpOffice, "prov", "Healthcare Provider", "", mw, r)
		for _, p := range mw.gps {
			w.practitioner(b, p, coding{sysHPRCat, "LE", "Lege"})
			w.role(b, r, p, mw.gpOffice)
		}
		for _, p := range mw.nurses {
			w.practitioner(b, p, coding{sysHPRCat, "SP", "Sykepleier"})
			w.role(b, r, p, mw.homecare)
		}
	}
	for i, m := range medications {
		w.medication(b, w.meds[i], m)
	}
	w.questionnaires(b)
}

func (w *world) organization(b *batch, o org, typ, typDisplay, partOf string, mw *muniWorld, r *rand.Rand) {
	b.open("Organization", o.id, profOrganization)
	j := &b.w
	j.arr("identifier")
	j.identifier("", nationalid.SystemOrgNumber, o.orgnr)
	if typ == "govt" {
		j.identifier("", nationalid.SystemKommunenummer, mw.m.number)
	}
	j.endArr()
	j.boolean("active", true)
	j.concepts("type", "", coding{sysOrgType, typ, typDisplay})
	j.str("name", o.name)
	j.arr("address")
	j.obj("")
	j.str("use", "work")
	j.str("type", "physical")
	j.arr("line")
	j.str("", pick(r, streets)+" "+strconv.Itoa(1+r.IntN(40)))
	j.endArr()
	j.str("city", mw.office.poststed)
	j.str("postalCode", mw.office.postnummer)
	j.str("country", "NO")
	j.end()
	j.endArr()
	if partOf != "" {
		j.ref("partOf", partOf, "")
	}
	b.close()
}

func (w *world) practitioner(b *batch, p *practitioner, category coding) {
	b.open("Practitioner", p.id, profPractitioner)
	j := &b.w
	j.arr("identifier")
	j.identifier("", nationalid.SystemHPR, p.hpr)
	j.endArr()
	j.boolean("active", true)
	j.arr("name")
	j.obj("")
	j.str("use", "official")
	j.str("family", p.family)
	j.arr("given")
	j.str("", p.given)
	j.endArr()
	j.end()
	j.endArr()
	j.str("gender", gender(p.female))
	j.arr("qualification")
	j.obj("")
	j.concept("code", category.display, category)
	j.end()
	j.endArr()
	b.close()
}

func (w *world) role(b *batch, r *rand.Rand, p *practitioner, o org) {
	b.open("PractitionerRole", uuid(r), profPractRole)
	j := &b.w
	j.boolean("active", true)
	j.ref("practitioner", p.ref, p.display)
	j.ref("organization", o.ref, o.name)
	b.close()
}

func (w *world) medication(b *batch, ref medRef, m medicationDef) {
	b.open("Medication", ref.id, profMedication)
	j := &b.w
	j.concept("code", m.name, coding{system: sysFEST, display: m.name}, m.atc)
	j.concept("form", "", m.form)
	b.close()
}

func gender(female bool) string {
	if female {
		return "female"
	}
	return "male"
}
