export { generateApiKey, parseApiKey, digestApiKey, digestsEqual, displayPrefixOf, randomBase62, KEY_RANDOM_LENGTH, type GeneratedKey, type KeyMode } from './key-format.js';
