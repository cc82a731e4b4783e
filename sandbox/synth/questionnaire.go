package synth

import "strconv"

// The sandbox ships its own two questionnaires so that QuestionnaireResponses
// have a form to be checked against. Item texts are our own short Norwegian
// wording: the COPD form follows the shape of the COPD Assessment Test (eight
// items scored 0–5) without its text; PHQ-9's items are free to use, and are
// paraphrased here.
const (
	catQuestionnaireID = "5d0c7a52-8a41-4d0b-9a43-3f4e1c2b7a01"
	phqQuestionnaireID = "5d0c7a52-8a41-4d0b-9a43-3f4e1c2b7a02"
	catURL             = questionnaireBase + "kols-egenvurdering"
	phqURL             = questionnaireBase + "phq-9"
)

var catItems = []string{
	"Hoste: 0 = jeg hoster aldri, 5 = jeg hoster hele tiden",
	"Slim: 0 = ingen slim i brystet, 5 = brystet er fullt av slim",
	"Trykk i brystet: 0 = ikke noe trykk, 5 = svært trykket",
	"Tung pust i bakker eller trapper: 0 = ikke tung pust, 5 = svært tung pust",
	"Aktiviteter hjemme: 0 = ikke begrenset, 5 = svært begrenset",
	"Trygg på å gå ut hjemmefra: 0 = helt trygg, 5 = ikke trygg i det hele tatt",
	"Søvn: 0 = sover godt, 5 = sover dårlig på grunn av lungene",
	"Energi: 0 = mye energi, 5 = ingen energi",
}

var phqItems = []string{
	"Lite interesse for eller glede av å gjøre ting",
	"Nedstemt, deprimert eller følelse av håpløshet",
	"Vansker med å sovne, urolig søvn eller for mye søvn",
	"Følelse av å være trøtt eller ha lite energi",
	"Dårlig matlyst eller overspising",
	"Dårlig selvbilde, følelse av å ha mislyktes",
	"Vansker med å konsentrere seg",
	"Beveger seg eller snakker langsomt, eller er svært urolig",
	"Tanker om at du ville vært bedre død, eller om å skade deg selv",
}

func (w *world) questionnaires(b *batch) {
	questionnaire(b, catQuestionnaireID, catURL, "KolsEgenvurdering",
		"Kols-egenvurdering (ukentlig)", "Siste uke: hvordan har lungene påvirket deg? Svar 0–5 på hvert spørsmål.", catItems, 5)
	questionnaire(b, phqQuestionnaireID, phqURL, "PHQ9",
		"PHQ-9 (siste to uker)", "Hvor ofte har du vært plaget av følgende de siste to ukene? 0 = ikke i det hele tatt, 1 = flere dager, 2 = mer enn halvparten av dagene, 3 = nesten hver dag.", phqItems, 3)
}

func questionnaire(b *batch, id, url, name, title, description string, items []string, max int) {
	b.open("Questionnaire", id, "")
	j := &b.w
	j.str("url", url)
	j.str("version", "1.0")
	j.str("name", name)
	j.str("title", title)
	j.str("status", "active")
	j.boolean("experimental", true)
	j.arr("subjectType")
	j.str("", "Patient")
	j.endArr()
	j.str("publisher", "Sandkasse (syntetiske testdata)")
	j.str("description", description)
	j.arr("item")
	for i, text := range items {
		j.obj("")
		j.arr("extension")
		j.obj("")
		j.str("url", "http://hl7.org/fhir/StructureDefinition/minValue")
		j.int("valueInteger", 0)
		j.end()
		j.obj("")
		j.str("url", "http://hl7.org/fhir/StructureDefinition/maxValue")
		j.int("valueInteger", max)
		j.end()
		j.endArr()
		j.str("linkId", strconv.Itoa(i+1))
		j.str("text", text)
		j.str("type", "integer")
		j.boolean("required", true)
		j.end()
	}
	j.obj("")
	j.str("linkId", "sum")
	j.str("text", "Sum")
	j.str("type", "integer")
	j.boolean("readOnly", true)
	j.end()
	j.endArr()
	b.close()
}
