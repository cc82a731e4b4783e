// Drives the mock EPR with fhir-kit-client: capability statement, search,
// read, create, paging. Usage: node check.js BASE_URL TOKEN
// Prints one JSON line of results; exits non-zero on the first failure.
'use strict';


const [baseUrl, token] = process.argv.slice(2);

function check(cond, msg) {
  if (!cond) {
    throw new Error(msg);
  }
}

(async () => {
  // fhir-kit-client 2 is an ES module.
  const { Client } = await import('fhir-kit-client');
  const client = new Client({ baseUrl, customHeaders: { Authorization: `Bearer ${token}` } });
  const out = {};
  const cs = await client.capabilityStatement();
  check(cs.resourceType === 'CapabilityStatement' && cs.fhirVersion === '4.0.1', 'capability statement');

  const first = await client.search({ resourceType: 'Patient', searchParams: { _count: 2, _sort: 'family' } });
  check(first.resourceType === 'Bundle' && first.type === 'searchset', 'search bundle');
  check(first.entry.length === 2, 'first page has 2 entries');
  out.total = first.total;

  // Paging with the client's own nextPage/prevPage (follows the links).
  let page = first;
  const seen = new Set();
  let pages = 0;
  while (page) {
    pages++;
    for (const e of page.entry || []) {
      check(!seen.has(e.resource.id), 'a patient on two pages');
      seen.add(e.resource.id);
    }
    page = await client.nextPage({ bundle: page });
  }
  check(seen.size === first.total, `paging saw ${seen.size} of ${first.total}`);
  // And back: prevPage from the second page is the first.
  const second = await client.nextPage({ bundle: first });
  const back = await client.prevPage({ bundle: second });
  check(back.entry[0].resource.id === first.entry[0].resource.id, 'prevPage');
  out.pages = pages;

  const id = first.entry[0].resource.id;
  const read = await client.read({ resourceType: 'Patient', id });
  check(read.id === id && read.meta.versionId, 'read');

  const created = await client.create({
    resourceType: 'Patient',
    body: {
      resourceType: 'Patient',
      identifier: [{ system: 'urn:oid:2.16.578.1.12.4.1.4.1', value: '22854910160' }],
      name: [{ family: 'Kitklient', given: ['Kari'] }],
      gender: 'female',
      birthDate: '1999-01-13',
    },
  });
  check(created.id && created.meta.versionId === '1', 'create');
  const found = await client.search({ resourceType: 'Patient', searchParams: { family: 'kitkl' } });
  check(found.total === 1 && found.entry[0].resource.id === created.id, 'search finds the created patient');
  out.created = created.id;

  const obs = await client.search({
    resourceType: 'Observation',
    searchParams: { patient: id, _include: 'Observation:subject', _count: 5 },
  });
  check(obs.resourceType === 'Bundle', 'observation search');

  let refused = false;
  try {
    await client.read({ resourceType: 'Patient', id: 'does-not-exist' });
  } catch (e) {
    refused = e.response && e.response.status === 404 && e.response.data.resourceType === 'OperationOutcome';
  }
  check(refused, 'a missing patient is a 404 OperationOutcome');
  console.log(JSON.stringify(out));
})().catch((e) => {
  console.error(e.message, e.response ? JSON.stringify(e.response.data) : '');
  process.exit(1);
});
