import { describe, expect, it } from '@jest/globals';
import { databaseOf, endpointOf, isLoopback, redactUrl, withDatabase } from './endpoint.js';

describe('service URL helpers', () => {
  it('reads host and port, with protocol defaults', () => {
    expect(endpointOf('postgresql://postgres@127.0.0.1:5433/stratum')).toEqual({ host: '127.0.0.1', port: 5433 });
    expect(endpointOf('postgres://u:p@db.example.com/x')).toEqual({ host: 'db.example.com', port: 5432 });
    expect(endpointOf('redis://localhost')).toEqual({ host: 'localhost', port: 6379 });
    expect(endpointOf('redis://[::1]:7000')).toEqual({ host: '::1', port: 7000 });
  });

  it('knows loopback addresses', () => {
    expect(['127.0.0.1', '127.1.2.3', 'localhost', '::1'].map(isLoopback)).toEqual([true, true, true, true]);
    expect(['0.0.0.0', '10.0.0.1', 'postgres', 'db.example.com'].map(isLoopback)).toEqual([false, false, false, false]);
  });

  it('names and switches the database, and hides passwords', () => {
    expect(databaseOf('postgresql://postgres@127.0.0.1:5432/stratum')).toBe('stratum');
    expect(databaseOf('postgresql://postgres@127.0.0.1:5432')).toBe('postgres');
    expect(withDatabase('postgresql://u:p@h:1/stratum?sslmode=disable', 'postgres')).toBe('postgresql://u:p@h:1/postgres?sslmode=disable');
    expect(redactUrl('postgresql://u:secret@h:1/db')).toBe('postgresql://u:***@h:1/db');
    expect(redactUrl('redis://h:6379')).toBe('redis://h:6379');
  });
});
