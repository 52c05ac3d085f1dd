import { describe, expect, it } from 'vitest';
import { maskUrl, urlDigest } from '../../src/platform/capability-url';

describe('maskUrl', () => {
  it('keeps the origin alone, whatever the path, query or fragment holds', () => {
    expect(maskUrl('https://hooks.slack.com/services/T0000/B0000/XXXXXXXXXXXXXXXX')).toBe('https://hooks.slack.com/…');
    expect(maskUrl('https://rotate.example.com/crm?token=abc123')).toBe('https://rotate.example.com/…');
    for (const raw of [
      'http://h/T0KENPATHSECRET123',
      'http://h/;T0KEN',
      'http://h//T0KEN/y',
      'http://h/%2FT0KEN/y',
      'http://h/?k=T0KEN',
      'http://h/#T0KEN',
    ]) {
      expect(maskUrl(raw), raw).toBe('http://h/…');
    }
    expect(maskUrl('https://receiver.example.com/')).toBe('https://receiver.example.com');
    expect(maskUrl('not a url')).toBe('…');
  });

  it('digests the whole URL', () => {
    expect(urlDigest('https://a.example/x')).toMatch(/^[0-9a-f]{64}$/);
    expect(urlDigest('https://a.example/x')).not.toBe(urlDigest('https://a.example/y'));
  });
});
