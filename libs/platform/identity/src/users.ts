import { Injectable } from '@nestjs/common';
import { PrismaClient, uuidv7, type Prisma, type User } from '#infra/db';
import { normalizeEmail } from './passwords.js';

/** A Prisma client or the client of a running transaction. */
export type Db = PrismaClient | Prisma.TransactionClient;

/** Users are global (not tenant-owned): one person, possibly in several organizations. */
@Injectable()
export class UsersRepository {
  constructor(private readonly prisma: PrismaClient) {}

  findByEmail(email: string, db: Db = this.prisma): Promise<User | null> {
    return db.user.findUnique({ where: { email: normalizeEmail(email) } });
  }

  findById(id: string, db: Db = this.prisma): Promise<User | null> {
    return db.user.findUnique({ where: { id } });
  }

  create(data: { email: string; name: string | null; passwordHash: string | null }, db: Db = this.prisma): Promise<User> {
    return db.user.create({ data: { id: uuidv7(), email: normalizeEmail(data.email), name: data.name, passwordHash: data.passwordHash } });
  }
}
