package synth

import (
	"math"
	"strconv"
	"strings"
	"time"
)

type vital struct {
	profile, text string
	codes         []coding
	category      coding
	unit, ucum    string
	prec          int
}

var (
	catVitalSigns = coding{sysObsCat, "vital-signs", "Vital Signs"}

	vHeartRate = vital{profVKPHeartrate, "Puls", []coding{
		{sysLOINC, "8867-4", "Heart rate"},
		{sysSNOMED, "364075005", "Heart rate (observable entity)"}}, catVitalSigns, "/min", "/min", 0}
	vSpO2 = vital{profVKPOxygensat, "Oksygenmetning", []coding{
		{sysLOINC, "2708-6", "Oxygen saturation in Arterial blood"},
		{sysLOINC, "59408-5", "Oxygen saturation in Arterial blood by Pulse oximetry"},
		{sysSNOMED, "431314004", "Peripheral oxygen saturation (observable entity)"}}, catVitalSigns, "%", "%", 0}
	vTemp = vital{profVKPTemp, "Temperatur", []coding{
		{sysLOINC, "8310-5", "Body temperature"},
		{sysSNOMED, "276885007", "Core body temperature (observable entity)"}}, catVitalSigns, "°C", "Cel", 1}
	vWeight = vital{profVKPWeight, "Vekt", []coding{
		{sysLOINC, "29463-7", "Body weight"},
		{sysSNOMED, "27113001", "Body weight (observable entity)"}}, catVitalSigns, "kg", "kg", 1}
	// Blood glucose as VKP's own glucose example codes it (LOINC, SNOMED CT
	// and NLK), under the general VKP Observation profile.
	vGlucose = vital{profVKPObs, "Blodsukker", []coding{
		{sysLOINC, "15074-8", "Glucose [Moles/volume] in Blood"},
		{sysSNOMED, "434912009", "Blood glucose concentration (observable entity)"},
		{sysNLK, "NPU02187", "B—Glucose"}}, catVitalSigns, "mmol/L", "mmol/L", 1}

	bpCodes = []coding{
		{sysLOINC, "85354-9", "Blood pressure panel with all children optional"},
		{sysSNOMED, "75367002", "Blood pressure (observable entity)"}}
	sysCodes = []coding{
		{sysLOINC, "8480-6", "Systolic blood pressure"},
		{sysSNOMED, "271649006", "Systolic blood pressure (observable entity)"}}
	diaCodes = []coding{
		{sysLOINC, "8462-4", "Diastolic blood pressure"},
		{sysSNOMED, "271650006", "Diastolic blood pressure (observable entity)"}}
)

var interpretations = map[string]coding{
	"H":  {sysInterp, "H", "High"},
	"L":  {sysInterp, "L", "Low"},
	"HH": {sysInterp, "HH", "Critical high"},
	"LL": {sysInterp, "LL", "Critical low"},
}

// physiology is one patient's baseline and current state.
type physiology struct {
	spo2, hr, sys, dia, weight, temp, glucose float64
	cat, phq                                  float64
	sysSlope, weightSlope                     float64

	exacLeft, exacLen int     // COPD exacerbation
	exacSeverity      float64 // 0.5..1.5
	fluid             float64 // heart-failure fluid, kg
	fluidRising       int
	feverLeft         int
	weights           []float64 // recent daily weights for the 3-day rule
}

// homeMeasurements writes the DHO measurements of the period: what each
// condition's self-treatment plan asks for, with day-to-day noise, slow
// trends, episodes (COPD exacerbations, heart-failure fluid build-up,
// fever), skipped days, and an alert (DetectedIssue) for each value past a
// red threshold.
func (g *pgen) homeMeasurements() {
	r, p := g.r, g.p
	has := p.has
	ph := &physiology{
		spo2:    94 + float64(r.IntN(4)),
		hr:      62 + float64(r.IntN(22)),
		sys:     122 + float64(r.IntN(20)),
		dia:     72 + float64(r.IntN(12)),
		temp:    36.5 + float64(r.IntN(5))/10,
		glucose: 6.5 + r.Float64()*3,
		cat:     8 + float64(r.IntN(16)),
		phq:     6 + float64(r.IntN(12)),
	}
	if p.female {
		ph.weight = 58 + r.Float64()*30
	} else {
		ph.weight = 70 + r.Float64()*35
	}
	if has[condCOPD] {
		ph.spo2 = 91 + float64(r.IntN(5))
	}
	if has[condHypertension] {
		ph.sys += 14 + float64(r.IntN(14))
		ph.dia += 6 + float64(r.IntN(8))
		ph.sysSlope = -float64(r.IntN(12)) / 365 // treatment works, slowly
	}
	if has[condCancer] {
		ph.weightSlope = -float64(r.IntN(6)) / 365
	} else {
		ph.weightSlope = (r.Float64()*4 - 2) / 365
	}
	start := g.w.opts.Start
	for d := range g.w.opts.Days {
		day := start.AddDate(0, 0, d)
		monday := day.Weekday() == time.Monday
		g.advance(ph, d)
		if r.IntN(100) < 7 { // a day without measurements
			continue
		}
		t := day.Add(time.Duration(7*60+r.IntN(180)) * time.Minute)
		next := func() time.Time { t = t.Add(time.Duration(1+r.IntN(3)) * time.Minute); return t }
		if has[condCOPD] {
			g.spo2(ph, next())
			g.heartRate(ph, next())
		}
		if has[condHeartFailure] {
			g.weight(ph, next(), true)
			g.bloodPressure(ph, next())
			if !has[condCOPD] {
				g.heartRate(ph, next())
			}
		} else if has[condHypertension] && (day.Weekday() == time.Monday || day.Weekday() == time.Wednesday || day.Weekday() == time.Friday) {
			g.bloodPressure(ph, next())
			if !has[condCOPD] {
				g.heartRate(ph, next())
			}
		}
		if has[condDiabetes2] {
			g.glucose(ph, next())
		}
		if (has[condCancer] || ph.exacLeft > 0) || ph.feverLeft > 0 {
			g.temperature(ph, next())
		}
		if monday && !has[condHeartFailure] && (has[condDiabetes2] || has[condCancer]) {
			g.weight(ph, next(), false)
		}
		if monday && has[condCOPD] {
			g.catResponse(ph, day.Add(time.Duration(17*60+r.IntN(240))*time.Minute))
		}
		if monday && has[condDepression] && (d/7)%2 == 0 {
			g.phqResponse(ph, day.Add(time.Duration(17*60+r.IntN(240))*time.Minute))
		}
	}
}

// advance moves the patient's state one day on.
func (g *pgen) advance(ph *physiology, d int) {
	r, has := g.r, g.p.has
	if has[condCOPD] {
		if ph.exacLeft > 0 {
			ph.exacLeft--
		} else if r.IntN(60) == 0 {
			ph.exacLen = 4 + r.IntN(7)
			ph.exacLeft = ph.exacLen
			ph.exacSeverity = 0.5 + r.Float64()
		}
	}
	if has[condHeartFailure] {
		switch {
		case ph.fluidRising > 0:
			ph.fluid += 0.35 + r.Float64()*0.3
			ph.fluidRising--
		case ph.fluid > 0:
			ph.fluid = math.Max(0, ph.fluid-0.5)
		case r.IntN(75) == 0:
			ph.fluidRising = 4 + r.IntN(3)
		}
	}
	if ph.feverLeft > 0 {
		ph.feverLeft--
	} else if (has[condCancer] && r.IntN(90) == 0) || r.IntN(400) == 0 {
		ph.feverLeft = 2 + r.IntN(3)
	}
}

// exac is the exacerbation's intensity today, 0..1.5: up, then down.
func (ph *physiology) exac() float64 {
	if ph.exacLeft <= 0 {
		return 0
	}
	pos := float64(ph.exacLen-ph.exacLeft) / float64(ph.exacLen)
	return ph.exacSeverity * math.Sin(math.Pi*(pos*0.9+0.1))
}

func (g *pgen) noise(sd float64) float64 { return g.r.NormFloat64() * sd }

func (g *pgen) spo2(ph *physiology, t time.Time) {
	v := math.Round(ph.spo2 + g.noise(0.8) - 5*ph.exac() - 2*b2f(ph.feverLeft > 0))
	v = math.Min(v, 99)
	interp := ""
	switch {
	case v < 88:
		interp = "LL"
	case v < 92:
		interp = "L"
	}
	id := g.observation(&vSpO2, t, v, interp)
	if v < 88 {
		g.alert(t, id, "high", "Oksygenmetning "+fmtNum(v, 0)+" % er under grensen på 88 % i egenbehandlingsplanen.")
	}
}

func (g *pgen) heartRate(ph *physiology, t time.Time) {
	v := math.Round(ph.hr + g.noise(4) + 15*ph.exac() + 12*b2f(ph.feverLeft > 0))
	if g.r.IntN(400) == 0 { // a run of atrial fibrillation, or a slow spell
		if g.r.IntN(2) == 0 {
			v = 125 + float64(g.r.IntN(25))
		} else {
			v = 38 + float64(g.r.IntN(4))
		}
	}
	interp := ""
	switch {
	case v > 120:
		interp = "HH"
	case v > 100:
		interp = "H"
	case v < 40:
		interp = "LL"
	case v < 50:
		interp = "L"
	}
	id := g.observation(&vHeartRate, t, v, interp)
	if v > 120 || v < 40 {
		g.alert(t, id, "high", "Puls "+fmtNum(v, 0)+" slag/min er utenfor grensene 40–120.")
	}
}

func (g *pgen) bloodPressure(ph *physiology, t time.Time) {
	d := float64(t.Sub(g.w.opts.Start).Hours() / 24)
	s := ph.sys + ph.sysSlope*d + g.noise(7)
	di := ph.dia + ph.sysSlope*d/2 + g.noise(4.5)
	if g.r.IntN(150) == 0 { // a spike: pain, stress, a forgotten tablet
		s += 35 + float64(g.r.IntN(15))
		di += 15 + float64(g.r.IntN(8))
	} else if g.r.IntN(300) == 0 { // low: dehydration, too much medicine
		s -= 35
		di -= 15
	}
	s, di = math.Round(s), math.Round(di)
	if di >= s-15 {
		di = s - 15
	}
	interp := ""
	switch {
	case s >= 180 || di >= 110:
		interp = "HH"
	case s >= 140 || di >= 90:
		interp = "H"
	case s < 90:
		interp = "L"
	}
	g.b.open("Observation", uuid(g.r), profVKPBP)
	j := g.j
	id := g.b.items[len(g.b.items)-1].id
	j.str("status", "final")
	j.concepts("category", "", catVitalSigns)
	j.concept("code", "Blodtrykk", bpCodes...)
	g.subject("subject")
	j.dateTime("effectiveDateTime", t)
	if interp != "" {
		j.concepts("interpretation", "", interpretations[interp])
	}
	j.arr("component")
	j.obj("")
	j.concept("code", "Systolisk blodtrykk", sysCodes...)
	j.quantity("valueQuantity", s, 0, "mmHg", "mm[Hg]")
	j.end()
	j.obj("")
	j.concept("code", "Diastolisk blodtrykk", diaCodes...)
	j.quantity("valueQuantity", di, 0, "mmHg", "mm[Hg]")
	j.end()
	j.endArr()
	g.b.close()
	switch {
	case s >= 180 || di >= 110:
		g.alert(t, id, "high", "Blodtrykk "+fmtNum(s, 0)+"/"+fmtNum(di, 0)+" mmHg er over grensen 180/110 mmHg.")
	case s < 90:
		g.alert(t, id, "moderate", "Blodtrykk "+fmtNum(s, 0)+"/"+fmtNum(di, 0)+" mmHg: systolisk trykk under 90 mmHg.")
	}
}

func (g *pgen) weight(ph *physiology, t time.Time, daily bool) {
	d := float64(t.Sub(g.w.opts.Start).Hours() / 24)
	v := math.Round((ph.weight+ph.weightSlope*d+ph.fluid+g.noise(0.25))*10) / 10
	id := g.observation(&vWeight, t, v, "")
	if !daily {
		return
	}
	ph.weights = append(ph.weights, v)
	if n := len(ph.weights); n > 3 {
		gain := v - ph.weights[n-4]
		ph.weights = ph.weights[n-4:]
		if gain > 2.0 {
			g.alert(t, id, "moderate", "Vekten har økt "+fmtNum(gain, 1)+" kg på tre dager (grense 2 kg): mulig væskeopphopning.")
		}
	}
}

func (g *pgen) temperature(ph *physiology, t time.Time) {
	v := ph.temp + g.noise(0.15) + 0.5*ph.exac()
	if ph.feverLeft > 0 {
		v += 1.6 + g.r.Float64()*1.2
	}
	v = math.Round(v*10) / 10
	interp := ""
	switch {
	case v >= 38.5:
		interp = "HH"
	case v >= 38.0:
		interp = "H"
	}
	id := g.observation(&vTemp, t, v, interp)
	if v >= 38.5 {
		g.alert(t, id, "high", "Temperatur "+fmtNum(v, 1)+" °C er over grensen 38,5 °C.")
	}
}

func (g *pgen) glucose(ph *physiology, t time.Time) {
	v := ph.glucose * math.Exp(g.noise(0.12))
	if ph.feverLeft > 0 || ph.exacLeft > 0 {
		v += 2 + g.r.Float64()*5
	}
	if g.p.insulin && g.r.IntN(80) == 0 {
		v = 2.6 + g.r.Float64()*1.2
	} else if g.r.IntN(250) == 0 {
		v += 8
	}
	v = math.Round(v*10) / 10
	interp := ""
	switch {
	case v > 15:
		interp = "HH"
	case v > 10:
		interp = "H"
	case v < 3:
		interp = "LL"
	case v < 4:
		interp = "L"
	}
	id := g.observation(&vGlucose, t, v, interp)
	switch {
	case v > 15:
		g.alert(t, id, "moderate", "Blodsukker "+fmtNum(v, 1)+" mmol/L er over grensen 15 mmol/L.")
	case v < 4:
		g.alert(t, id, "high", "Blodsukker "+fmtNum(v, 1)+" mmol/L er under grensen 4 mmol/L (føling).")
	}
}

// observation writes a single-valued vital sign and returns its id.
func (g *pgen) observation(v *vital, t time.Time, value float64, interp string) string {
	id := uuid(g.r)
	g.b.open("Observation", id, v.profile)
	j := g.j
	j.str("status", "final")
	j.concepts("category", "", v.category)
	j.concept("code", v.text, v.codes...)
	g.subject("subject")
	j.dateTime("effectiveDateTime", t)
	j.quantity("valueQuantity", value, v.prec, v.unit, v.ucum)
	if interp != "" {
		j.concepts("interpretation", "", interpretations[interp])
	}
	g.b.close()
	return id
}

var mitigations = []string{
	"Sykepleier ringte pasienten, ga råd etter egenbehandlingsplanen og avtalte ny måling.",
	"Sykepleier ringte pasienten; ny måling var innenfor grensene.",
	"Sykepleier drøftet målingen med fastlegen; medisinering justert.",
	"Hjemmesykepleien besøkte pasienten samme dag.",
	"Pasienten ble bedt om å kontakte legevakt.",
}

// alert writes the DetectedIssue a red value raises, closed by the
// patient's nurse unless it came on the last day of the period.
func (g *pgen) alert(t time.Time, implicated, severity, detail string) {
	g.issue(t, "Observation/"+implicated, "Måling utenfor grenseverdi", severity, detail)
}

func (g *pgen) issue(t time.Time, implicated, code, severity, detail string) {
	r, p, j := g.r, g.p, g.j
	g.b.open("DetectedIssue", uuid(r), "")
	j.str("status", "final")
	j.concept("code", code)
	j.str("severity", severity)
	g.patientRef("patient")
	found := t.Add(time.Duration(1+r.IntN(10)) * time.Minute)
	j.dateTime("identifiedDateTime", found)
	j.refs("implicated", implicated)
	j.str("detail", detail)
	end := g.w.opts.Start.AddDate(0, 0, g.w.opts.Days-1)
	if t.Before(end) {
		j.arr("mitigation")
		j.obj("")
		j.concept("action", mitigations[r.IntN(len(mitigations))])
		j.dateTime("date", found.Add(time.Duration(20+r.IntN(300))*time.Minute))
		j.ref("author", p.nurse.ref, p.nurse.display)
		j.end()
		j.endArr()
	}
	g.b.close()
}

func (g *pgen) catResponse(ph *physiology, t time.Time) {
	base := ph.cat + 8*ph.exac() + g.noise(1.5)
	answers := make([]int, len(catItems))
	sum := 0
	for i := range answers {
		a := int(math.Round(base/8 + g.noise(0.7)))
		answers[i] = min(5, max(0, a))
		sum += answers[i]
	}
	id := g.questionnaireResponse(catURL, catItems, answers, sum, t)
	if sum >= 30 {
		g.issue(t, "QuestionnaireResponse/"+id, "Egenvurdering over grenseverdi", "moderate",
			"Kols-egenvurdering med sum "+strconv.Itoa(sum)+" (grense 30): mulig forverring.")
	}
}

func (g *pgen) phqResponse(ph *physiology, t time.Time) {
	ph.phq = math.Max(0, math.Min(27, ph.phq+g.noise(1.5)-0.1))
	answers := make([]int, len(phqItems))
	sum := 0
	for i := range answers {
		a := int(math.Round(ph.phq/9 + g.noise(0.6)))
		if i == 8 { // item 9 is rarely above 0
			a = 0
			if ph.phq > 15 && g.r.IntN(3) == 0 {
				a = 1
			}
		}
		answers[i] = min(3, max(0, a))
		sum += answers[i]
	}
	id := g.questionnaireResponse(phqURL, phqItems, answers, sum, t)
	switch {
	case answers[8] > 0:
		g.issue(t, "QuestionnaireResponse/"+id, "Egenvurdering over grenseverdi", "high",
			"PHQ-9: svar over 0 på spørsmål 9 (tanker om død eller selvskading). Kontakt pasienten samme dag.")
	case sum >= 20:
		g.issue(t, "QuestionnaireResponse/"+id, "Egenvurdering over grenseverdi", "moderate",
			"PHQ-9 med sum "+strconv.Itoa(sum)+" (alvorlig depresjon, grense 20).")
	}
}

func (g *pgen) questionnaireResponse(url string, items []string, answers []int, sum int, t time.Time) string {
	id := uuid(g.r)
	g.b.open("QuestionnaireResponse", id, profVKPQuestResp)
	j := g.j
	j.str("questionnaire", url)
	j.str("status", "completed")
	g.subject("subject")
	j.dateTime("authored", t)
	g.patientRef("author")
	j.arr("item")
	for i, a := range answers {
		j.obj("")
		j.str("linkId", strconv.Itoa(i+1))
		j.str("text", items[i])
		j.arr("answer")
		j.obj("")
		j.int("valueInteger", a)
		j.end()
		j.endArr()
		j.end()
	}
	j.obj("")
	j.str("linkId", "sum")
	j.str("text", "Sum")
	j.arr("answer")
	j.obj("")
	j.int("valueInteger", sum)
	j.end()
	j.endArr()
	j.end()
	j.endArr()
	g.b.close()
	return id
}

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

// fmtNum formats a number the Norwegian way (decimal comma).
func fmtNum(v float64, prec int) string {
	return strings.Replace(strconv.FormatFloat(v, 'f', prec, 64), ".", ",", 1)
}
