package synth

import (
	"math/rand/v2"
	"strconv"
	"time"

	"github.com/sandkasse/sandkasse/validator/nationalid"
)

type patient struct {
	id, ref, display   string
	identSystem, ident string
	female, dnr        bool
	birth              time.Time
	mw                 *muniWorld
	gp, nurse          *practitioner
	has                [numCondKinds]bool
	condID             [numCondKinds]string
	condCode           [numCondKinds]conditionDef
	onset              [numCondKinds]time.Time
	dho, homecare      bool
	insulin            bool
	dhoStart           time.Time
}

// pgen generates one patient into a batch.
type pgen struct {
	w *world
	b *batch
	j *jw
	r *rand.Rand
	p *patient

	nameGiven, nameSecond, nameFamily string
}

func (w *world) patient(b *batch, i int) {
	g := &pgen{w: w, b: b, j: &b.w, r: rng(w.opts.Seed, uint64(i)+1), p: &patient{}}
	g.person()
	g.writePatient()
	g.conditions()
	g.allergies()
	g.medicationStatements()
	g.episodes()
	g.carePlans()
	if g.p.dho {
		g.homeMeasurements()
	}
}

func (g *pgen) person() {
	r, p, start := g.r, g.p, g.w.opts.Start
	p.id = uuid(r)
	p.ref = "Patient/" + p.id
	p.female = r.IntN(100) < 54
	p.dnr = r.IntN(100) < 5
	var age int
	switch x := r.IntN(100); {
	case p.dnr:
		age = 25 + r.IntN(40)
	case x < 55:
		age = 70 + r.IntN(26)
	case x < 85:
		age = 50 + r.IntN(20)
	default:
		age = 25 + r.IntN(25)
	}
	p.birth = start.AddDate(-age, -r.IntN(12), -r.IntN(28))
	p.birth = time.Date(p.birth.Year(), p.birth.Month(), p.birth.Day(), 0, 0, 0, 0, time.UTC)
	sex := nationalid.SexMale
	if p.female {
		sex = nationalid.SexFemale
	}
	var err error
	if p.dnr {
		p.identSystem = nationalid.SystemDNR
		p.ident, err = nationalid.SyntheticDNR(r, p.birth, sex)
	} else {
		p.identSystem = nationalid.SystemFNR
		p.ident, err = nationalid.SyntheticFNR(r, p.birth, sex)
	}
	if err != nil {
		// Options.normalised keeps Start in years whose births the
		// number series cover.
		panic("synth: " + err.Error())
	}
	var given, family string
	switch {
	case p.dnr:
		given, family = pick(r, givenForeign), pick(r, surnamesForeign)
	case p.female:
		given, family = pick(r, givenFemale), pick(r, surnames)
	default:
		given, family = pick(r, givenMale), pick(r, surnames)
	}
	p.display = given + " " + family
	g.nameGiven, g.nameFamily = given, family
	if !p.dnr && r.IntN(100) < 20 { // a second given name
		list := givenMale
		if p.female {
			list = givenFemale
		}
		if second := pick(r, list); second != given {
			g.nameSecond = second
		}
	}
	p.mw = g.w.municipalityFor(r)
	p.gp = p.mw.gps[r.IntN(len(p.mw.gps))]
	p.nurse = p.mw.nurses[r.IntN(len(p.mw.nurses))]

	// Chronic conditions at the rates of a home-follow-up population; the
	// younger D-nummer patients have them less often.
	scale := 1.0
	if p.dnr || age < 50 {
		scale = 0.5
	}
	for k := range numCondKinds {
		rate := conditionDefs[k].rate * scale
		if k == condHeartFailure && p.has[condHypertension] {
			rate *= 1.5
		}
		if k == condDepression {
			rate = conditionDefs[k].rate
		}
		p.has[k] = r.Float64() < rate
	}
	n := 0
	for _, h := range p.has {
		if h {
			n++
		}
	}
	if n == 0 {
		p.has[[]condKind{condHypertension, condDiabetes2, condCOPD, condDepression}[r.IntN(4)]] = true
	}
	for k := range numCondKinds {
		if !p.has[k] {
			continue
		}
		p.condID[k] = uuid(r)
		def := conditionDefs[k]
		if k == condCancer {
			s := cancerSites[r.IntN(len(cancerSites))]
			if (s.icd10.code == "C61" && p.female) || (s.icd10.code == "C509" && !p.female) {
				s = cancerSites[0]
			}
			def.snomed, def.icd10, def.text = s.snomed, s.icd10, s.text
		}
		p.condCode[k] = def
		maxYears := age - 30
		if maxYears < 1 {
			maxYears = 1
		}
		if maxYears > 15 {
			maxYears = 15
		}
		if k == condCancer {
			maxYears = 1
		}
		p.onset[k] = g.w.opts.Start.AddDate(-r.IntN(maxYears), -r.IntN(12), -1-r.IntN(27))
	}
	eligible := p.has[condCOPD] || p.has[condHeartFailure] || p.has[condDiabetes2] || p.has[condCancer]
	if eligible {
		p.dho = r.IntN(100) < 75
	} else {
		p.dho = r.IntN(100) < 35
	}
	if age >= 80 {
		p.homecare = r.IntN(100) < 60
	} else {
		p.homecare = r.IntN(100) < 20
	}
	p.dhoStart = g.w.opts.Start.AddDate(0, 0, -1-r.IntN(180))
}

// subject writes a Reference to the patient: the literal reference, the
// logical identifier VKP asks for (FNR or DNR) and the name.
func (g *pgen) subject(k string) {
	j, p := g.j, g.p
	j.obj(k)
	j.str("reference", p.ref)
	j.identifier("identifier", p.identSystem, p.ident)
	j.str("display", p.display)
	j.end()
}

func (g *pgen) patientRef(k string) { g.j.ref(k, g.p.ref, g.p.display) }

func (g *pgen) writePatient() {
	j, p, r := g.j, g.p, g.r
	g.b.open("Patient", p.id, profPatient)
	j.arr("identifier")
	j.identifier("", p.identSystem, p.ident)
	j.endArr()
	j.boolean("active", true)
	j.arr("name")
	j.obj("")
	j.str("use", "official")
	j.str("family", g.nameFamily)
	j.arr("given")
	j.str("", g.nameGiven)
	if g.nameSecond != "" {
		j.str("", g.nameSecond)
	}
	j.endArr()
	j.end()
	j.endArr()
	j.str("gender", gender(p.female))
	j.date("birthDate", p.birth)
	pl := p.mw.m.places[r.IntN(len(p.mw.m.places))]
	j.arr("address")
	j.obj("")
	j.str("use", "home")
	j.str("type", "physical")
	j.arr("line")
	house := strconv.Itoa(1 + r.IntN(120))
	if r.IntN(100) < 15 {
		house += string(rune('A' + r.IntN(4)))
	}
	j.str("", pick(r, streets)+" "+house)
	j.endArr()
	j.str("city", pl.poststed)
	j.str("district", pl.kommune)
	j.obj("_district")
	j.arr("extension")
	j.obj("")
	j.str("url", extMunicipality)
	j.coding("valueCoding", coding{kommunenummerOID, pl.kommunenummer, pl.kommune})
	j.end()
	j.endArr()
	j.end()
	j.str("postalCode", pl.postnummer)
	j.str("country", "NO")
	j.end()
	j.endArr()
	j.arr("generalPractitioner")
	j.ref("", p.gp.ref, p.gp.display)
	j.endArr()
	j.ref("managingOrganization", p.mw.kommune.ref, p.mw.kommune.name)
	g.b.close()
}

func (g *pgen) conditions() {
	j, p := g.j, g.p
	for k := range numCondKinds {
		if !p.has[k] {
			continue
		}
		def := p.condCode[k]
		g.b.open("Condition", p.condID[k], "")
		j.concept("clinicalStatus", "", coding{sysCondClin, "active", "Active"})
		j.concept("verificationStatus", "", coding{sysCondVer, "confirmed", "Confirmed"})
		j.concepts("category", "", coding{sysCondCat, "problem-list-item", "Problem List Item"})
		j.concept("code", def.text, def.snomed, def.icd10)
		g.patientRef("subject")
		j.date("onsetDateTime", p.onset[k])
		j.date("recordedDate", p.onset[k].AddDate(0, 0, g.r.IntN(30)))
		j.ref("recorder", p.gp.ref, p.gp.display)
		g.b.close()
	}
}

func (g *pgen) allergies() {
	r := g.r
	n := 0
	switch x := r.IntN(100); {
	case x < 3:
		n = 2
	case x < 17:
		n = 1
	}
	total := 0
	for _, a := range allergyDefs {
		total += a.weight
	}
	used := -1
	for range n {
		x := r.IntN(total)
		i := 0
		for ; x >= allergyDefs[i].weight; i++ {
			x -= allergyDefs[i].weight
		}
		if i == used {
			continue
		}
		used = i
		a := allergyDefs[i]
		j := g.j
		// Not claimed as no-basis-AllergyIntolerance: that profile fixes the
		// reaction coding to Volven 7497, whose codes we do not have.
		g.b.open("AllergyIntolerance", uuid(r), "")
		j.concept("clinicalStatus", "", coding{sysAllClin, "active", "Active"})
		j.concept("verificationStatus", "", coding{sysAllVer, "confirmed", "Confirmed"})
		j.str("type", "allergy")
		j.arr("category")
		j.str("", "medication")
		j.endArr()
		crit := "low"
		if a.severity != "mild" {
			crit = "high"
		}
		j.str("criticality", crit)
		j.concept("code", a.text, a.atc)
		g.patientRef("patient")
		j.date("recordedDate", g.w.opts.Start.AddDate(-1-r.IntN(20), -r.IntN(12), 0))
		j.ref("recorder", g.p.gp.ref, g.p.gp.display)
		j.arr("reaction")
		j.obj("")
		j.concepts("manifestation", "", a.reaction)
		j.str("severity", a.severity)
		j.end()
		j.endArr()
		g.b.close()
	}
}

func (g *pgen) medicationStatements() {
	j, p, r := g.j, g.p, g.r
	for k := range numCondKinds {
		if !p.has[k] {
			continue
		}
		def := p.condCode[k]
		for n, mi := range def.meds {
			if n > 0 && r.IntN(100) >= 50/n {
				continue
			}
			if mi == medInsulinGlargine {
				p.insulin = true
			}
			m, ref := medications[mi], g.w.meds[mi]
			g.b.open("MedicationStatement", uuid(r), profMedStatement)
			j.str("status", "active")
			j.ref("medicationReference", ref.ref, ref.display)
			g.patientRef("subject")
			j.obj("effectivePeriod")
			j.date("start", p.onset[k].AddDate(0, 0, 7+r.IntN(60)))
			j.end()
			j.dateTime("dateAsserted", g.w.opts.Start.Add(-time.Duration(1+r.IntN(30*24))*time.Hour))
			j.ref("informationSource", p.gp.ref, p.gp.display)
			j.concepts("reasonCode", "", def.icd10)
			j.refs("reasonReference", "Condition/"+p.condID[k])
			j.arr("dosage")
			j.obj("")
			j.str("text", m.dosage)
			j.end()
			j.endArr()
			g.b.close()
		}
	}
}

func (g *pgen) episodes() {
	j, p, r := g.j, g.p, g.r
	if p.dho {
		g.b.open("EpisodeOfCare", uuid(r), "")
		j.str("status", "active")
		j.concepts("type", "Digital hjemmeoppfølging")
		j.arr("diagnosis")
		rank := 1
		for k := range numCondKinds {
			if p.has[k] {
				j.obj("")
				j.ref("condition", "Condition/"+p.condID[k], p.condCode[k].text)
				j.int("rank", rank)
				j.end()
				rank++
			}
		}
		j.endArr()
		g.patientRef("patient")
		j.ref("managingOrganization", p.mw.homecare.ref, p.mw.homecare.name)
		j.obj("period")
		j.date("start", p.dhoStart)
		j.end()
		j.ref("careManager", p.nurse.ref, p.nurse.display)
		g.b.close()
	}
	if p.homecare {
		g.b.open("EpisodeOfCare", uuid(r), "")
		j.str("status", "active")
		j.concepts("type", "Hjemmesykepleie")
		g.patientRef("patient")
		j.ref("managingOrganization", p.mw.homecare.ref, p.mw.homecare.name)
		j.obj("period")
		j.date("start", g.w.opts.Start.AddDate(0, -1-r.IntN(36), -r.IntN(28)))
		j.end()
		j.ref("careManager", p.nurse.ref, p.nurse.display)
		g.b.close()
	}
}

func (g *pgen) carePlans() {
	j, p, r := g.j, g.p, g.r
	if !p.dho {
		return
	}
	for k := range numCondKinds {
		if !p.has[k] {
			continue
		}
		def := conditionDefs[k]
		g.b.open("CarePlan", uuid(r), "")
		j.str("status", "active")
		j.str("intent", "plan")
		j.concepts("category", "Egenbehandlingsplan")
		j.str("title", def.planTitle)
		j.str("description", "Plan for egenbehandling og hjemmemålinger ved "+lower(p.condCode[k].text)+".")
		g.patientRef("subject")
		j.obj("period")
		j.date("start", p.dhoStart)
		j.end()
		j.dateTime("created", p.dhoStart.Add(9*time.Hour))
		j.ref("author", p.gp.ref, p.gp.display)
		j.refs("addresses", "Condition/"+p.condID[k])
		j.arr("activity")
		for _, step := range def.planSteps {
			j.obj("")
			j.obj("detail")
			j.str("status", "in-progress")
			j.str("description", step)
			j.end()
			j.end()
		}
		j.endArr()
		g.b.close()
	}
}

func lower(s string) string {
	if s == "" || s[0] < 'A' || s[0] > 'Z' {
		return s
	}
	return string(s[0]+'a'-'A') + s[1:]
}
