package synth

// Code systems. Codes below are real codes from public sources; where we
// did not know a real code for a system we leave that system out rather
// than invent one.
const (
	sysSNOMED   = "http://snomed.info/sct"
	sysLOINC    = "http://loinc.org"
	sysUCUM     = "http://unitsofmeasure.org"
	sysNLK      = "urn:oid:2.16.578.1.12.4.1.1.7280" // NPU/NLK, Norsk laboratoriekodeverk
	sysICD10    = "urn:oid:2.16.578.1.12.4.1.1.7110" // ICD-10, Norwegian edition (codes without the dot)
	sysATC      = "http://www.whocc.no/atc"
	sysFEST     = "http://ehelse.no/fhir/CodeSystem/FEST"
	sysObsCat   = "http://terminology.hl7.org/CodeSystem/observation-category"
	sysCondCat  = "http://terminology.hl7.org/CodeSystem/condition-category"
	sysCondClin = "http://terminology.hl7.org/CodeSystem/condition-clinical"
	sysCondVer  = "http://terminology.hl7.org/CodeSystem/condition-ver-status"
	sysAllClin  = "http://terminology.hl7.org/CodeSystem/allergyintolerance-clinical"
	sysAllVer   = "http://terminology.hl7.org/CodeSystem/allergyintolerance-verification"
	sysInterp   = "http://terminology.hl7.org/CodeSystem/v3-ObservationInterpretation"
	sysOrgType  = "http://terminology.hl7.org/CodeSystem/organization-type"
	sysHPRCat   = "urn:oid:2.16.578.1.12.4.1.1.9060" // Volven 9060, helsepersonellkategori
)

// Profiles set in meta.profile. The VKP package publishes some canonicals
// under http://hl7.no/ and some under http://ehelse.no/; these are the
// URLs as the StructureDefinitions in vkp-r4-0.9.0 state them.
const (
	profPatient       = "http://hl7.no/fhir/StructureDefinition/no-basis-Patient"
	profPractitioner  = "http://hl7.no/fhir/StructureDefinition/no-basis-Practitioner"
	profPractRole     = "http://hl7.no/fhir/StructureDefinition/no-basis-PractitionerRole"
	profOrganization  = "http://hl7.no/fhir/StructureDefinition/no-basis-Organization"
	profMedication    = "http://hl7.no/fhir/StructureDefinition/no-basis-Medication"
	profMedStatement  = "http://hl7.no/fhir/StructureDefinition/no-basis-MedicationStatement"
	profVKPObs        = "http://ehelse.no/fhir/StructureDefinition/vkp-Observation-v090"
	profVKPBP         = "http://ehelse.no/fhir/StructureDefinition/vkp-Observation-Bloodpressure-v090"
	profVKPTemp       = "http://hl7.no/fhir/StructureDefinition/vkp-Observation-Bodytemp-v090"
	profVKPWeight     = "http://hl7.no/fhir/StructureDefinition/vkp-Observation-Bodyweight-v090"
	profVKPHeartrate  = "http://hl7.no/fhir/StructureDefinition/vkp-Observation-Heartrate-v090"
	profVKPOxygensat  = "http://hl7.no/fhir/StructureDefinition/vkp-Observation-Oxygensat-v090"
	profVKPQuestResp  = "http://ehelse.no/fhir/StructureDefinition/vkp-QuestionnaireReponse-v090"
	extMunicipality   = "http://hl7.no/fhir/StructureDefinition/no-basis-municipalitycode"
	kommunenummerOID  = "urn:oid:2.16.578.1.12.4.1.1.3402"
	synthTagSystem    = "http://terminology.hl7.org/CodeSystem/v3-ActReason"
	questionnaireBase = "http://sandkasse.no/fhir/Questionnaire/"
)

type condKind int

const (
	condCOPD condKind = iota
	condDiabetes2
	condHeartFailure
	condHypertension
	condDepression
	condCancer
	numCondKinds
)

type conditionDef struct {
	kind      condKind
	snomed    coding
	icd10     coding
	text      string  // Norwegian
	rate      float64 // share of the population that has it
	meds      []int   // indexes into medications, first line first
	planTitle string
	planSteps []string
}

// Prevalence in a municipal home-follow-up population (older patients with
// chronic disease, often several), not in the general population.
var conditionDefs = []conditionDef{
	condCOPD: {condCOPD,
		coding{sysSNOMED, "13645005", "Chronic obstructive lung disease (disorder)"},
		coding{sysICD10, "J449", "Kronisk obstruktiv lungesykdom, uspesifisert"},
		"Kols", 0.32, []int{medTiotropium, medFormoterolBudesonide, medSalbutamol},
		"Egenbehandlingsplan kols",
		[]string{"Mål oksygenmetning og puls hver morgen før medisin.",
			"Grønn: vanlig dag, ta faste medisiner. Gul: mer tung pust eller farget oppspytt i to dager – start anfallsmedisin og kontakt sykepleier. Rød: oksygenmetning under 88 % eller kraftig tung pust – ring legevakt 116117.",
			"Svar på kols-egenvurderingen hver mandag."}},
	condDiabetes2: {condDiabetes2,
		coding{sysSNOMED, "44054006", "Diabetes mellitus type 2 (disorder)"},
		coding{sysICD10, "E119", "Diabetes mellitus type 2 uten komplikasjoner"},
		"Diabetes type 2", 0.28, []int{medMetformin, medEmpagliflozin, medInsulinGlargine},
		"Egenbehandlingsplan diabetes",
		[]string{"Mål fastende blodsukker hver morgen.",
			"Blodsukker under 4 mmol/L: spis eller drikk sukker straks og mål på nytt etter 15 minutter. Over 15 mmol/L to ganger: kontakt sykepleier.",
			"Vei deg en gang i uken."}},
	condHeartFailure: {condHeartFailure,
		coding{sysSNOMED, "84114007", "Heart failure (disorder)"},
		coding{sysICD10, "I509", "Hjertesvikt, uspesifisert"},
		"Hjertesvikt", 0.18, []int{medFurosemide, medSacubitrilValsartan, medBisoprolol},
		"Egenbehandlingsplan hjertesvikt",
		[]string{"Vei deg hver morgen etter vannlating, før frokost.",
			"Vektøkning over 2 kg på tre dager: ta ekstra vanndrivende etter avtale og kontakt sykepleier.",
			"Mål blodtrykk og puls hver morgen."}},
	condHypertension: {condHypertension,
		coding{sysSNOMED, "38341003", "Hypertensive disorder, systemic arterial (disorder)"},
		coding{sysICD10, "I10", "Essensiell (primær) hypertensjon"},
		"Høyt blodtrykk", 0.45, []int{medAmlodipine, medLosartan, medHydrochlorothiazide},
		"Egenbehandlingsplan høyt blodtrykk",
		[]string{"Mål blodtrykk sittende etter fem minutters hvile, tre morgener i uken.",
			"Over 180/110 mmHg: mål igjen etter 15 minutter, og kontakt sykepleier om det fortsatt er høyt."}},
	condDepression: {condDepression,
		coding{sysSNOMED, "35489007", "Depressive disorder (disorder)"},
		coding{sysICD10, "F329", "Depressiv episode, uspesifisert"},
		"Depresjon", 0.18, []int{medSertraline, medMirtazapine},
		"Egenbehandlingsplan depresjon",
		[]string{"Svar på PHQ-9 annenhver uke.",
			"Ved tanker om å skade deg selv: ring fastlegen, legevakt 116117 eller 113."}},
	condCancer: {condCancer,
		coding{sysSNOMED, "363406005", "Malignant neoplasm of colon (disorder)"},
		coding{sysICD10, "C189", "Ondartet svulst i tykktarm, uspesifisert"},
		"Kreft i tykktarm", 0.10, []int{medParacetamol, medOxycodone},
		"Egenbehandlingsplan under kreftbehandling",
		[]string{"Mål temperatur hver morgen og ved frysninger.",
			"Temperatur over 38,5 °C: ring kreftavdelingen straks.",
			"Vei deg en gang i uken."}},
}

// Cancer sites drawn for condCancer (the definition above is the first).
var cancerSites = []struct {
	snomed, icd10 coding
	text          string
}{
	{coding{sysSNOMED, "363406005", "Malignant neoplasm of colon (disorder)"}, coding{sysICD10, "C189", "Ondartet svulst i tykktarm, uspesifisert"}, "Kreft i tykktarm"},
	{coding{sysSNOMED, "254837009", "Malignant neoplasm of breast (disorder)"}, coding{sysICD10, "C509", "Ondartet svulst i bryst, uspesifisert"}, "Brystkreft"},
	{coding{sysSNOMED, "399068003", "Malignant tumor of prostate (disorder)"}, coding{sysICD10, "C61", "Ondartet svulst i blærehalskjertel"}, "Prostatakreft"},
	{coding{sysSNOMED, "363358000", "Malignant tumor of lung (disorder)"}, coding{sysICD10, "C349", "Ondartet svulst i bronkie eller lunge, uspesifisert"}, "Lungekreft"},
}

type medicationDef struct {
	name   string // product-style name shown as the FEST display
	atc    coding
	form   coding // SNOMED CT dose form
	dosage string
}

const (
	medTiotropium = iota
	medFormoterolBudesonide
	medSalbutamol
	medMetformin
	medEmpagliflozin
	medInsulinGlargine
	medFurosemide
	medSacubitrilValsartan
	medBisoprolol
	medAmlodipine
	medLosartan
	medHydrochlorothiazide
	medSertraline
	medMirtazapine
	medParacetamol
	medOxycodone
)

var (
	formTablet       = coding{sysSNOMED, "385055001", "Tablet"}
	formFilmTablet   = coding{sysSNOMED, "385057009", "Film-coated tablet"}
	formInhalPowder  = coding{sysSNOMED, "385207009", "Inhalation powder"}
	formPressInhal   = coding{sysSNOMED, "385203008", "Pressurised inhalation"}
	formInjectionSol = coding{sysSNOMED, "385219001", "Injection solution"}
	formCapsule      = coding{sysSNOMED, "385049006", "Capsule"}
)

// ATC codes and names from WHO's ATC index. FEST (the Norwegian medicines
// register) identifiers are not invented: the FEST coding carries the
// product name as display only, which no-basis-Medication allows.
var medications = []medicationDef{
	medTiotropium:           {"Tiotropium inhalasjonspulver 18 mikrog", coding{sysATC, "R03BB04", "tiotropium bromide"}, formInhalPowder, "1 inhalasjon morgen"},
	medFormoterolBudesonide: {"Formoterol/budesonid inhalasjonspulver 4,5/160 mikrog", coding{sysATC, "R03AK07", "formoterol and budesonide"}, formInhalPowder, "2 inhalasjoner morgen og kveld"},
	medSalbutamol:           {"Salbutamol inhalasjonsaerosol 0,1 mg/dose", coding{sysATC, "R03AC02", "salbutamol"}, formPressInhal, "1–2 inhalasjoner ved behov, inntil 4 ganger daglig"},
	medMetformin:            {"Metformin tablett 500 mg", coding{sysATC, "A10BA02", "metformin"}, formFilmTablet, "1 tablett morgen og kveld"},
	medEmpagliflozin:        {"Empagliflozin tablett 10 mg", coding{sysATC, "A10BK03", "empagliflozin"}, formFilmTablet, "1 tablett morgen"},
	medInsulinGlargine:      {"Insulin glargin injeksjonsvæske 100 E/ml", coding{sysATC, "A10AE04", "insulin glargine"}, formInjectionSol, "Etter skjema, kveld"},
	medFurosemide:           {"Furosemid tablett 40 mg", coding{sysATC, "C03CA01", "furosemide"}, formTablet, "1 tablett morgen"},
	medSacubitrilValsartan:  {"Sakubitril/valsartan tablett 49/51 mg", coding{sysATC, "C09DX04", "valsartan and sacubitril"}, formFilmTablet, "1 tablett morgen og kveld"},
	medBisoprolol:           {"Bisoprolol tablett 5 mg", coding{sysATC, "C07AB07", "bisoprolol"}, formFilmTablet, "1 tablett morgen"},
	medAmlodipine:           {"Amlodipin tablett 5 mg", coding{sysATC, "C08CA01", "amlodipine"}, formTablet, "1 tablett morgen"},
	medLosartan:             {"Losartan tablett 50 mg", coding{sysATC, "C09CA01", "losartan"}, formFilmTablet, "1 tablett morgen"},
	medHydrochlorothiazide:  {"Hydroklortiazid tablett 25 mg", coding{sysATC, "C03AA03", "hydrochlorothiazide"}, formTablet, "1 tablett morgen"},
	medSertraline:           {"Sertralin tablett 50 mg", coding{sysATC, "N06AB06", "sertraline"}, formFilmTablet, "1 tablett morgen"},
	medMirtazapine:          {"Mirtazapin tablett 15 mg", coding{sysATC, "N06AX11", "mirtazapine"}, formFilmTablet, "1 tablett kveld"},
	medParacetamol:          {"Paracetamol tablett 500 mg", coding{sysATC, "N02BE01", "paracetamol"}, formTablet, "2 tabletter inntil 4 ganger daglig ved behov"},
	medOxycodone:            {"Oksykodon kapsel 5 mg", coding{sysATC, "N02AA05", "oxycodone"}, formCapsule, "1 kapsel ved behov, inntil 4 ganger daglig"},
}

// Drug allergies, coded with ATC (the slice no-basis defines for
// AllergyIntolerance.code) and SNOMED CT reactions.
var allergyDefs = []struct {
	atc      coding
	text     string
	reaction coding
	severity string
	weight   int
}{
	{coding{sysATC, "J01CE02", "phenoxymethylpenicillin"}, "Penicillin", coding{sysSNOMED, "247472004", "Weal"}, "moderate", 6},
	{coding{sysATC, "J01EE01", "sulfamethoxazole and trimethoprim"}, "Trimetoprim-sulfa", coding{sysSNOMED, "271807003", "Eruption of skin"}, "mild", 2},
	{coding{sysATC, "M01AE01", "ibuprofen"}, "Ibuprofen", coding{sysSNOMED, "267036007", "Dyspnea"}, "moderate", 2},
	{coding{sysATC, "R05DA04", "codeine"}, "Kodein", coding{sysSNOMED, "422587007", "Nausea"}, "mild", 2},
	{coding{sysATC, "J01FA10", "azithromycin"}, "Azitromycin", coding{sysSNOMED, "271807003", "Eruption of skin"}, "mild", 1},
}
