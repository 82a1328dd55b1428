// Entry point of the action (dist/index.js).
import { runAction } from './run.js'

void runAction()
