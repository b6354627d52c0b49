// The application menu: the platform's usual roles, plus Hearth's commands and their shortcuts.

import type { MenuItemConstructorOptions } from 'electron'
import type { MenuCommand } from '../../src-shared/types.ts'

/** The renderer carries commands out; the menu only names them. */
export function menuTemplate(platform: NodeJS.Platform, run: (command: MenuCommand) => void): MenuItemConstructorOptions[] {
  const mac = platform === 'darwin'
  const commands: MenuItemConstructorOptions[] = [
    { label: 'New Chat', accelerator: 'CmdOrCtrl+N', click: () => run('new-chat') },
    { label: 'Search Chats…', accelerator: 'CmdOrCtrl+K', click: () => run('search') },
  ]
  const settings: MenuItemConstructorOptions = { label: 'Settings…', accelerator: 'CmdOrCtrl+,', click: () => run('settings') }
  return [
    ...(mac
      ? [
          {
            role: 'appMenu',
            submenu: [
              { role: 'about' },
              { type: 'separator' },
              settings,
              { type: 'separator' },
              { role: 'services' },
              { type: 'separator' },
              { role: 'hide' },
              { role: 'hideOthers' },
              { role: 'unhide' },
              { type: 'separator' },
              { role: 'quit' },
            ],
          } satisfies MenuItemConstructorOptions,
        ]
      : []),
    {
      label: 'File',
      submenu: mac ? [...commands, { type: 'separator' }, { role: 'close' }] : [...commands, { type: 'separator' }, settings, { type: 'separator' }, { role: 'quit' }],
    },
    { role: 'editMenu' },
    {
      label: 'View',
      submenu: [
        { label: 'Toggle Sidebar', accelerator: 'CmdOrCtrl+B', click: () => run('toggle-sidebar') },
        { label: 'Models', accelerator: 'CmdOrCtrl+Shift+M', click: () => run('models') },
        { type: 'separator' },
        { role: 'reload' },
        { role: 'toggleDevTools' },
        { type: 'separator' },
        { role: 'resetZoom' },
        { role: 'zoomIn' },
        { role: 'zoomOut' },
        { type: 'separator' },
        { role: 'togglefullscreen' },
      ],
    },
    { role: 'windowMenu' },
  ]
}
