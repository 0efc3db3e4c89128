import { describe, expect, it } from 'vitest';
import { dashboardText, schemaErrors } from './schema.js';

describe("the dashboard against Grafana's schema (@grafana/schema)", () => {
  it('is a valid Grafana Dashboard, field by field', () => {
    expect(schemaErrors(dashboardText())).toEqual([]);
  });

  it('is caught by this check when a field has the wrong type, a wrong name or an unknown value', () => {
    const dashboard = JSON.parse(dashboardText());
    const wrong = (edit: (d: typeof dashboard) => void) => {
      const copy = structuredClone(dashboard);
      edit(copy);
      return schemaErrors(JSON.stringify(copy, null, 2)).join('\n');
    };
    expect(
      wrong((d) => {
        d.panels[0].gridPos.w = '12';
      }),
    ).toMatch(/'string' is not assignable to type 'number'/);
    expect(
      wrong((d) => {
        d.templating.list[1].type = 'querry';
      }),
    ).toMatch(/"querry"' is not assignable to type 'VariableType'/);
    expect(
      wrong((d) => {
        d.refresh_rate = '5s';
      }),
    ).toMatch(/'"refresh_rate"' does not exist in type 'Dashboard'/);
  });
});
