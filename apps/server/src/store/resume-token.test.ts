import { describe, expect, it } from 'vitest';
import { ResumeTokens } from './resume-token.js';

describe('ResumeTokens', () => {
  const tokens = new ResumeTokens('secret-1');
  const position = Buffer.from('0001020304050607', 'hex');

  it('gives back the position of a token issued for the same stream', () => {
    const token = tokens.issue('orders', position);
    expect(token).toMatch(/^[A-Za-z0-9_-]+$/);
    expect(tokens.open('orders', token)).toEqual(position);
    expect(new ResumeTokens('secret-1').open('orders', token)).toEqual(position);
  });

  it('carries positions of any length (the adapter decides the format)', () => {
    for (const bytes of [Buffer.from([7]), Buffer.alloc(40, 0xab)]) {
      expect(tokens.open('s', tokens.issue('s', bytes))).toEqual(bytes);
    }
  });

  it('refuses a token of another stream or another secret', () => {
    const token = tokens.issue('orders', position);
    expect(tokens.open('orders2', token)).toBeNull();
    expect(tokens.open('Orders', token)).toBeNull();
    expect(new ResumeTokens('secret-2').open('orders', token)).toBeNull();
  });

  it('refuses every single-character change of a token', () => {
    const token = tokens.issue('orders', position);
    const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
    for (let i = 0; i < token.length; i++) {
      for (const c of alphabet) {
        if (c === token[i]) continue;
        const tampered = token.slice(0, i) + c + token.slice(i + 1);
        expect(tokens.open('orders', tampered), tampered).toBeNull();
      }
    }
  });

  it('refuses truncated, extended, padded and non-token strings', () => {
    const token = tokens.issue('orders', position);
    for (const bad of [
      token.slice(0, -1),
      token.slice(1),
      `${token}A`,
      `${token}=`,
      ` ${token}`,
      `${token}\n`,
      'x',
      'AQ',
      '',
      '!!!!',
      '😀'.repeat(8),
      'A'.repeat(1024),
    ]) {
      expect(tokens.open('orders', bad), JSON.stringify(bad)).toBeNull();
    }
  });

  it('refuses a token whose version byte is not this format', () => {
    const bytes = Buffer.from(tokens.issue('orders', position), 'base64url');
    bytes[0] = 2;
    expect(tokens.open('orders', bytes.toString('base64url'))).toBeNull();
  });
});
