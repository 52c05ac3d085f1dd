import { describe, expect, it } from 'vitest';
import { maskUrl, urlDigest } from '../../src/platform/capability-url';

describe('maskUrl', () => {
  it('keeps the origin and the first path segment, and hides the rest of the path and the query', () => {
    expect(maskUrl('https://hooks.slack.com/services/T0000/B0000/XXXXXXXXXXXXXXXX')).toBe('https://hooks.slack.com/services/…');
    expect(maskUrl('https://rotate.example.com/crm?token=abc123')).toBe('https://rotate.example.com/crm?…');
    expect(maskUrl('https://receiver.example.com/')).toBe('https://receiver.example.com');
    expect(maskUrl('http://127.0.0.1:8080/hook')).toBe('http://127.0.0.1:8080/hook');
    expect(maskUrl('not a url')).toBe('…');
  });

  it('digests the whole URL', () => {
    expect(urlDigest('https://a.example/x')).toMatch(/^[0-9a-f]{64}$/);
    expect(urlDigest('https://a.example/x')).not.toBe(urlDigest('https://a.example/y'));
  });
});
